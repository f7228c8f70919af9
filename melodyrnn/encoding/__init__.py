"""Event arrays to model inputs and labels and back: Magenta's and magenta.js's encoder/decoders
(encoders) and the tokens of a file under a named encoding (tokens)."""
