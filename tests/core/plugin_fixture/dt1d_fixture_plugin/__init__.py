"""Example dt1d plugin: importing the package itself registers nothing."""
