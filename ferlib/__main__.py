"""`python -m ferlib`: print the data file the scripts use by default (empty: the built-in faces)."""

from ferlib import default_data_path

print(default_data_path() or "")
