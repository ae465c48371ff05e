"""kopf handlers, kept thin: parse, observe, plan, act, report."""
