"""Pure decisions: plain data in, decisions out. No I/O, no kopf, no Azure SDK, no clock reads."""
