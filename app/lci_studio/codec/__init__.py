"""Qt-free codec core: model, entropy coding, `.lci` format, weights, metrics, ladder runner."""
