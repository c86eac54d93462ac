# The package version (read by setuptools for the distribution metadata too).
__version__ = '1.0.0'
