#!/usr/bin/env python
"""Django's command-line utility for OpenCommissioning."""

from opencommissioning.__main__ import main

if __name__ == "__main__":
    main()
