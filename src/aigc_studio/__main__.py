"""``python -m aigc_studio`` runs the ``aigc`` command."""

from aigc_studio.cli import main

if __name__ == "__main__":
    main()
