"""Specs of the managed services; each module turns the config into ServiceSpecs."""
