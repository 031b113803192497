"""AIGC Studio: a local studio for AI-generated audio and video.

The package is organised in wings (``music``, ``audio``, ``video``) standing on a shared base
(``models``, ``training``, ``evaluation``) which stands on ``dsp`` and ``media``. See
the README's "Layout" section for the picture.
"""

__version__ = "0.1.0"
