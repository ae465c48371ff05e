"""`vmroll dev`: the whole local stack in one command, for trying vmroll without Azure."""
