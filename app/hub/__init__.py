"""The hub: IT's server (SPEC section 8). Installed with the `hub` extra; the laptop app and its
frozen bundle never import anything under this package."""
