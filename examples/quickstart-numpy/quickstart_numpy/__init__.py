"""quickstart-numpy: a numpy-only Flower App (federated linear regression)."""
