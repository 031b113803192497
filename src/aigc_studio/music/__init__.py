"""Music: render MIDI, check melodies against their training corpus, and measure music.

The parts of music creation that need no trained model live here: rendering MIDI to audio
(:mod:`~aigc_studio.music.rendering`, fluidsynth or the built-in
:mod:`~aigc_studio.music.synthesizer`), the transposition-invariant copy check against a corpus
(:mod:`~aigc_studio.music.copy_check`), the mgeval statistics of melody sets
(:mod:`~aigc_studio.music.statistics`) and the n-gram baseline language model
(:mod:`~aigc_studio.music.ngram_baseline`). Composition with the trained models builds on these;
this package does not read or write files except the copy-check index.
"""
