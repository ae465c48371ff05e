"""Typed models of vmroll's custom resources: the single source of the CRD schemas."""
