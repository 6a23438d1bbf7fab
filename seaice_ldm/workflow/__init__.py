"""Workflows above the library layers: ``train all`` (a data file to a checkpoints folder), its presets, and
model cards. Imports every layer below the command line; nothing below imports it."""
