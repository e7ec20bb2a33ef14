"""The networks in use on images and files: estimates and classes."""
