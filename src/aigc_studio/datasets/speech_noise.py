"""Speech-noise: synthesized noisy speech with its clean reference, for training denoisers.

Everything is made on this machine, nothing downloaded. Speech comes from espeak-ng: sentences
of a built-in text list in eleven languages (written for this module and dedicated to the public
domain), spoken by many voice variants (``m1``…``m8``, ``f1``…``f5``, the Klatt voices, the named
variants) at random speed and pitch, one espeak call per utterance. Noise is synthesized: white
and brown noise with a jittered spectral slope, pink noise, mains hum at 50/60 Hz with harmonics,
clicks and crackle, wind (low-passed noise with gusts), babble of three to seven other voices,
machine drone (a harmonic motor tone with amplitude modulation and band noise) and music (random
melodies of harmonic tones). A fraction of the utterances is reverberated with a synthetic room
impulse response (exponentially decaying Gaussian noise after a direct path, Schroeder's model;
RT60 0.2-0.8 s); the reverberant speech is then the clean target, so this trains denoising, not
dereverberation. Each item is a fixed-length segment (2 s at 16 kHz by default) mixed at an SNR
uniform in [-5, 20] dB, so that ``noisy = clean + noise`` exactly (``noisy - clean`` recovers the
scaled noise, e.g. to remix at a fixed SNR).

The split is by speaker and by noise type, not by hashing items: voice variants in
``VALID_VARIANTS`` only appear in valid, those in ``TEST_VARIANTS`` only in test, and the held-out
noise types (``DEFAULT_HELDOUT_NOISE``: pink and machine) only in test, so the test split measures
speakers and noises never heard in training. The babble of each split is made from that split's
own voices. Item ids are ``"<language>+<variant>~<noise type>~<index>"`` and
:func:`speech_noise_split` maps an id to its split; the manifest lists the held-out variants,
voices and noise types.

This module prepares the cache; it does not train or denoise.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal as sps

from aigc_studio.datasets.cache import write_cache
from aigc_studio.datasets.split import SPLITS, Split
from aigc_studio.errors import MediaError, ParameterError
from aigc_studio.media import load_audio
from aigc_studio.system_tools import require, tool_status

DATASET_NAME = "speech-noise"

#: Sentences per espeak-ng language, written for this module (public domain).
SENTENCES: dict[str, tuple[str, ...]] = {
    "en-us": (
        "The old lighthouse keeper walked along the shore every morning before sunrise.",
        "Please bring the blue folder to the meeting room on the third floor.",
        "A gentle rain fell on the village while the children were asleep.",
        "We tested the new bridge with trucks full of sand and gravel.",
        "Could you explain once more how this little machine actually works?",
        "The library stays open late on Thursdays during the winter months.",
        "Numbers like forty two and nine hundred are easy to remember.",
        "Thick clouds gathered over the mountains, and the wind grew colder.",
    ),
    "en-gb": (
        "Her grandmother kept a garden of tomatoes, beans and yellow flowers.",
        "The train to the coast leaves at a quarter past seven from platform four.",
        "I would rather walk home through the park than wait for the bus.",
        "The committee will publish its report at the end of the month.",
        "Put the kettle on, and we shall talk about it over a cup of tea.",
        "Seven swans were swimming slowly across the quiet lake.",
        "The museum has a fine collection of clocks from the last three centuries.",
        "Turn left at the church, then follow the river until you reach the mill.",
    ),
    "de": (
        "Der alte Fischer fährt jeden Morgen mit seinem kleinen Boot hinaus.",
        "Bitte schließen Sie das Fenster, bevor Sie das Haus verlassen.",
        "Im Herbst färben sich die Blätter im Park rot und golden.",
        "Meine Schwester lernt seit zwei Jahren Geige und spielt schon sehr gut.",
        "Der Zug nach Hamburg hat heute leider zwanzig Minuten Verspätung.",
        "Wir haben am Wochenende einen langen Spaziergang am See gemacht.",
        "Kannst du mir sagen, wo die nächste Apotheke ist?",
        "Das Wetter wird morgen sonnig, aber am Abend kommt Regen.",
    ),
    "fr-fr": (
        "Le vieux boulanger ouvre sa boutique tous les matins à six heures.",
        "Nous avons traversé la forêt à pied pour rejoindre le village voisin.",
        "Pourriez-vous parler un peu plus lentement, s'il vous plaît ?",
        "La pluie tombait doucement sur les toits de la ville endormie.",
        "Mon frère collectionne les cartes postales depuis son enfance.",
        "Le musée est fermé le lundi, mais il ouvre tard le jeudi soir.",
        "Il faut ajouter un peu de sel et laisser cuire pendant dix minutes.",
        "Les enfants ont construit un château de sable au bord de la mer.",
    ),
    "es": (
        "El viejo pescador salía al mar todas las mañanas antes del amanecer.",
        "Por favor, cierra la puerta cuando salgas de la cocina.",
        "En primavera el jardín se llena de flores amarillas y rojas.",
        "Mi abuela cuenta historias muy divertidas sobre su infancia.",
        "El autobús número doce pasa cada quince minutos por la plaza.",
        "Ayer caminamos por la montaña hasta que empezó a llover.",
        "¿Sabes a qué hora abre la biblioteca los sábados?",
        "La música de la fiesta se escuchaba desde el otro lado del río.",
    ),
    "it": (
        "Il vecchio pescatore esce in mare ogni mattina prima dell'alba.",
        "Per favore, chiudi la finestra prima di uscire di casa.",
        "In autunno le foglie del parco diventano rosse e dorate.",
        "Mia sorella studia il violino da due anni e suona già molto bene.",
        "Il treno per Milano parte alle otto e venti dal binario tre.",
        "Domenica abbiamo fatto una lunga passeggiata lungo il fiume.",
        "Sai dirmi dove si trova la farmacia più vicina?",
        "Domani sarà una giornata di sole, ma la sera arriverà la pioggia.",
    ),
    "nl": (
        "De oude visser vaart elke ochtend met zijn kleine boot de zee op.",
        "Wil je alsjeblieft het raam dichtdoen voordat je weggaat?",
        "In de herfst worden de bladeren in het park rood en geel.",
        "Mijn broer fietst elke dag twintig kilometer naar zijn werk.",
        "De trein naar Utrecht heeft vandaag een kwartier vertraging.",
        "We hebben zaterdag een lange wandeling door de duinen gemaakt.",
        "Weet jij hoe laat de bibliotheek morgen opengaat?",
        "Het wordt morgen zonnig, maar in de avond gaat het regenen.",
    ),
    "pt-br": (
        "O velho pescador saía para o mar todas as manhãs antes do sol nascer.",
        "Por favor, feche a janela antes de sair de casa.",
        "Na primavera o jardim fica cheio de flores amarelas e vermelhas.",
        "Minha avó conta histórias muito engraçadas sobre a infância dela.",
        "O ônibus para o centro passa a cada quinze minutos.",
        "Ontem caminhamos pela praia até começar a chover.",
        "Você sabe a que horas a biblioteca abre no sábado?",
        "A música da festa podia ser ouvida do outro lado do rio.",
    ),
    "pl": (
        "Stary rybak codziennie rano wypływa swoją małą łodzią na morze.",
        "Proszę zamknąć okno przed wyjściem z domu.",
        "Jesienią liście w parku robią się czerwone i złote.",
        "Moja siostra od dwóch lat uczy się grać na skrzypcach.",
        "Pociąg do Krakowa ma dzisiaj dwadzieścia minut opóźnienia.",
        "W niedzielę poszliśmy na długi spacer nad jezioro.",
        "Czy wiesz, gdzie jest najbliższa apteka?",
        "Jutro będzie słonecznie, ale wieczorem przyjdzie deszcz.",
    ),
    "sv": (
        "Den gamla fiskaren ror ut på sjön varje morgon innan solen går upp.",
        "Kan du vara snäll och stänga fönstret innan du går?",
        "På hösten blir löven i parken röda och gula.",
        "Min bror cyklar tjugo kilometer till jobbet varje dag.",
        "Tåget till Göteborg är tyvärr en kvart försenat i dag.",
        "Vi tog en lång promenad längs stranden i lördags.",
        "Vet du när biblioteket öppnar i morgon?",
        "I morgon blir det soligt, men på kvällen kommer regnet.",
    ),
    "fi": (
        "Vanha kalastaja soutaa joka aamu järvelle ennen auringonnousua.",
        "Voisitko sulkea ikkunan ennen kuin lähdet kotoa?",
        "Syksyllä puiston lehdet muuttuvat punaisiksi ja keltaisiksi.",
        "Siskoni on soittanut viulua kaksi vuotta ja soittaa jo hyvin.",
        "Juna Tampereelle on tänään myöhässä kaksikymmentä minuuttia.",
        "Teimme sunnuntaina pitkän kävelyn metsässä.",
        "Tiedätkö, missä lähin apteekki on?",
        "Huomenna on aurinkoista, mutta illalla sataa.",
    ),
}

#: espeak-ng voice variants (the speaker's timbre) heard in training.
TRAIN_VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "klatt", "klatt2", "klatt3",
    "adam", "Alex", "Alicia", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin",
    "boris", "caleb", "david", "Denis", "Diogo", "ed", "edward", "Gene", "gustave", "Henrique",
    "Hugo", "iven", "Jacky", "john", "Lee", "linda", "marcelo", "Marco", "Mario", "max",
    "Michael", "michel", "miguel", "Mike", "Nguyen", "pablo", "paul", "pedro", "quincy", "rob",
    "robert", "steph", "Storm", "zac", "anika", "grandpa", "norbert", "sandro", "shelby",
    "travis", "victor", "whisper",
)  # fmt: skip
#: Variants heard only in the valid split.
VALID_VARIANTS: tuple[str, ...] = ("m6", "f4", "klatt4", "edward2", "iven2", "steph2")
#: Variants heard only in the test split (held-out speakers).
TEST_VARIANTS: tuple[str, ...] = (
    "m7", "m8", "f5", "klatt5", "klatt6", "Gene2", "iven3", "steph3", "grandma", "croak",
)  # fmt: skip

#: Every noise type, in label order.
NOISE_TYPES: tuple[str, ...] = (
    "white", "pink", "brown", "hum", "clicks", "wind", "babble", "machine", "music",
)  # fmt: skip
#: Noise types that appear only in the test split (held-out noises).
DEFAULT_HELDOUT_NOISE: tuple[str, ...] = ("pink", "machine")

#: Utterances rendered per segment of a split (they are reused with other crops and noises).
UTTERANCES_PER_SEGMENT = 0.4
#: Fewest utterances rendered for a split (fewer only for tiny splits), so that babble has
#: other voices.
MIN_UTTERANCES = 24
#: espeak-ng speed (words per minute) and pitch (0-99) ranges.
SPEED_RANGE = (120, 220)
PITCH_RANGE = (20, 80)
#: Range of the clean speech's RMS level, dBFS.
SPEECH_LEVEL_DB = (-35.0, -15.0)
#: Peak that no mixture exceeds (both signals are scaled down together).
MAX_PEAK = 0.99
#: Clean segments quieter than this RMS are redrawn (a crop of silence).
MIN_SPEECH_RMS = 1e-4

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class UtteranceSpec:
    """One espeak-ng call: what is said, by which voice, how fast and how high."""

    voice: str
    text: str
    speed: int
    pitch: int

    @property
    def variant(self) -> str:
        """The voice variant (the part after ``+``)."""
        return self.voice.partition("+")[2]


def speech_noise_split(
    item_id: str, heldout_noise_types: Iterable[str] = DEFAULT_HELDOUT_NOISE
) -> Split:
    """Return the split of an item from the voice and noise type in its id.

    Parameters
    ----------
    item_id : str
        ``"<language>+<variant>~<noise type>~<index>"``.
    heldout_noise_types : iterable of str
        Noise types reserved for test.

    Returns
    -------
    {"train", "valid", "test"}
        ``"test"`` for a test variant or a held-out noise type, ``"valid"`` for a valid variant,
        ``"train"`` otherwise.

    Raises
    ------
    ParameterError
        If the id does not have that form.

    Examples
    --------
    >>> speech_noise_split("de+m3~wind~000017")
    'train'
    >>> speech_noise_split("en-us+f5~pink~000003")
    'test'
    """
    voice, _, rest = item_id.partition("~")
    noise_type = rest.partition("~")[0]
    variant = voice.partition("+")[2]
    if not variant or not noise_type:
        raise ParameterError(f"item id must be '<language>+<variant>~<noise>~<n>', got {item_id!r}")
    if variant in TEST_VARIANTS or noise_type in set(heldout_noise_types):
        return "test"
    if variant in VALID_VARIANTS:
        return "valid"
    return "train"


def render_utterance(spec: UtteranceSpec, sr: int, espeak: str) -> np.ndarray:
    """Speak one sentence with espeak-ng and return it at ``sr``, float32 (samples,).

    Raises
    ------
    MediaError
        If espeak-ng fails or produces no audio.
    """
    with tempfile.TemporaryDirectory(prefix="aigc-espeak-") as folder:
        path = Path(folder) / "utterance.wav"
        command = [
            espeak, "-v", spec.voice, "-s", str(spec.speed), "-p", str(spec.pitch),
            "-w", str(path), spec.text,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.is_file() or path.stat().st_size <= 44:
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise MediaError(
                f"espeak-ng failed to speak with voice {spec.voice} "
                f"({reason[-1] if reason else f'exit status {done.returncode}'})"
            )
        audio, _ = load_audio(path, sr=sr, mono=True)
    return audio[0]


def room_impulse_response(rt60: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Return a synthetic room impulse response: a direct path and a decaying noise tail.

    The tail is Gaussian noise under an exponential envelope that falls 60 dB in ``rt60``
    seconds (Schroeder's statistical model of late reverberation), starting 1-5 ms after the
    direct path, at a direct-to-reverberant ratio uniform in [-3, 10] dB.

    Parameters
    ----------
    rt60 : float
        Reverberation time in seconds (0.05-3).
    sr : int
        Sample rate.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    np.ndarray
        float64 (samples,), direct path 1 at index 0.
    """
    if not 0.05 <= rt60 <= 3.0:
        raise ParameterError(f"rt60 must be in [0.05, 3] s, got {rt60}")
    length = int(rt60 * sr)
    delay = int(rng.uniform(0.001, 0.005) * sr)
    t = np.arange(length - delay) / sr
    tail = rng.standard_normal(t.size) * np.exp(-6.908 * t / rt60)
    drr_db = rng.uniform(-3.0, 10.0)
    tail *= math.sqrt(10.0 ** (-drr_db / 10.0) / max(np.sum(tail**2), 1e-12))
    rir = np.zeros(length)
    rir[0] = 1.0
    rir[delay:] += tail
    return rir


def synthesize_noise(
    noise_type: str,
    n: int,
    sr: int,
    rng: np.random.Generator,
    *,
    babble_pool: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """Synthesize ``n`` samples of one noise type at unit RMS.

    Parameters
    ----------
    noise_type : str
        One of ``NOISE_TYPES``.
    n : int
        Samples.
    sr : int
        Sample rate.
    rng : np.random.Generator
        Source of randomness (every parameter of the noise is drawn from it).
    babble_pool : sequence of np.ndarray
        Utterances to make babble from (required for ``"babble"``).

    Returns
    -------
    np.ndarray
        float64 (n,), RMS 1.

    Raises
    ------
    ParameterError
        If the type is unknown, or babble is asked without a pool.
    """
    makers = {
        "white": lambda: _colored(n, sr, rng.uniform(-0.3, 0.3), rng),
        "pink": lambda: _colored(n, sr, 1.0, rng),
        "brown": lambda: _colored(n, sr, rng.uniform(1.7, 2.3), rng),
        "hum": lambda: _hum(n, sr, rng),
        "clicks": lambda: _clicks(n, sr, rng),
        "wind": lambda: _wind(n, sr, rng),
        "babble": lambda: _babble(n, rng, babble_pool),
        "machine": lambda: _machine(n, sr, rng),
        "music": lambda: _music(n, sr, rng),
    }
    if noise_type not in makers:
        raise ParameterError(f"noise_type must be one of {list(NOISE_TYPES)}, got {noise_type!r}")
    noise = makers[noise_type]()
    noise -= noise.mean()
    rms = math.sqrt(float(np.mean(noise**2)))
    return noise / rms if rms > 0 else noise


def _colored(n: int, sr: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum 1/f^beta above 40 Hz (flat below, so no DC drift)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, d=1.0 / sr), 40.0)
    return np.fft.irfft(spectrum * freqs ** (-beta / 2.0), n=n)


def _hum(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz (slightly off) and its harmonics with a random, buzzy spectrum."""
    f0 = float(rng.choice([50.0, 60.0])) * (1.0 + rng.normal(0.0, 0.002))
    t = np.arange(n) / sr
    slope = rng.uniform(0.3, 1.5)
    odd_boost = rng.uniform(1.0, 3.0)
    wave = np.zeros(n)
    for k in range(1, min(40, int(sr / 2 / f0))):
        amplitude = rng.uniform(0.3, 1.0) * k**-slope * (odd_boost if k % 2 else 1.0)
        wave += amplitude * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return wave


def _clicks(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Clicks and crackle: Poisson-timed short decaying noise bursts of random size."""
    wave = rng.standard_normal(n) * 0.01  # the faint hiss under a crackle
    count = max(1, int(rng.poisson(rng.uniform(1.0, 40.0) * n / sr)))
    for start in rng.integers(0, n, size=count):
        length = int(rng.uniform(0.0005, 0.005) * sr) + 1
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 4))
        end = min(n, start + length)
        wave[start:end] += rng.lognormal(0.0, 0.7) * burst[: end - start]
    return wave


def _smooth_random(n: int, sr: int, cutoff: float, rng: np.random.Generator) -> np.ndarray:
    """Return a slowly varying random signal (low-passed noise) of unit standard deviation."""
    sos = sps.butter(2, cutoff, btype="low", fs=sr, output="sos")
    slow = sps.sosfilt(sos, rng.standard_normal(n + sr))[sr:]  # drop the filter's start
    return slow / (np.std(slow) + 1e-12)


def _wind(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Wind: low-passed noise whose level follows random gusts (0.2-2 Hz)."""
    sos = sps.butter(2, rng.uniform(150.0, 800.0), btype="low", fs=sr, output="sos")
    rumble = sps.sosfilt(sos, rng.standard_normal(n))
    gusts = np.exp(rng.uniform(0.3, 1.2) * _smooth_random(n, sr, rng.uniform(0.2, 2.0), rng))
    return rumble * gusts


def _babble(n: int, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    """Babble: three to seven talkers from ``pool`` at levels within ±6 dB."""
    if not pool:
        raise ParameterError("babble needs a pool of utterances")
    wave = np.zeros(n)
    for _ in range(int(rng.integers(3, 8))):
        talker = np.zeros(0)
        while talker.size < n:  # one talker keeps talking: utterances back to back
            utterance = pool[int(rng.integers(len(pool)))]
            talker = np.concatenate([talker, utterance])
        start = int(rng.integers(0, talker.size - n + 1))
        part = talker[start : start + n]
        rms = math.sqrt(float(np.mean(part**2))) or 1.0
        wave += part / rms * 10.0 ** (rng.uniform(-6.0, 6.0) / 20.0)
    return wave


def _machine(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Machine drone: a drifting harmonic motor tone, amplitude-modulated, over band noise."""
    t = np.arange(n) / sr
    f0 = rng.uniform(80.0, 400.0) * (1.0 + 0.01 * _smooth_random(n, sr, 0.5, rng))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    centre = rng.uniform(300.0, 3000.0)
    wave = np.zeros(n)
    for k in range(1, int(sr / 2 / f0.max())):
        # A resonance of the housing shapes the harmonics.
        level = 1.0 / (1.0 + ((k * f0[0] - centre) / (0.5 * centre)) ** 2)
        wave += level * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    depth = rng.uniform(0.2, 0.8)
    wave *= 1.0 + depth * np.sin(2 * np.pi * rng.uniform(2.0, 15.0) * t)
    low, high = centre * 0.7, min(centre * 1.4, 0.45 * sr)
    sos = sps.butter(2, [low, high], btype="band", fs=sr, output="sos")
    band = sps.sosfilt(sos, rng.standard_normal(n))
    wave /= np.std(wave) + 1e-12
    return wave + band / (np.std(band) + 1e-12) * 10.0 ** (rng.uniform(-15.0, -5.0) / 20.0)


def _music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Music: one or two random melodies of harmonic tones on a major scale."""
    from aigc_studio.dsp.synthesis import harmonic_tone

    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    wave = np.zeros(n)
    for _ in range(int(rng.integers(1, 3))):
        root = int(rng.integers(45, 70))
        degree = int(rng.integers(0, 7))
        n_harmonics = int(rng.integers(3, 11))
        rolloff = rng.uniform(0.4, 0.8)
        voice = []
        total = 0
        while total < n:
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
            pitch = root + 12 * (degree // 7) + scale[degree % 7]
            seconds = float(rng.choice([0.125, 0.25, 0.375, 0.5]))
            tone = harmonic_tone(
                440.0 * 2 ** ((pitch - 69) / 12),
                seconds,
                sr,
                n_harmonics=n_harmonics,
                rolloff=rolloff,
            )
            voice.append(tone)
            total += tone.size
        wave += np.concatenate(voice)[:n] * rng.uniform(0.5, 1.0)
    return wave


def prepare_speech_noise(
    out_root: str | os.PathLike[str],
    *,
    train_segments: int = 2000,
    valid_segments: int = 200,
    test_segments: int = 200,
    segment_seconds: float = 2.0,
    sr: int = 16_000,
    snr_db: Sequence[float] = (-5.0, 20.0),
    test_snr_db: Sequence[float] | None = None,
    reverb_probability: float = 0.25,
    heldout_noise_types: Sequence[str] = DEFAULT_HELDOUT_NOISE,
    languages: Sequence[str] | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> Path:
    """Synthesize the speech-noise mixtures and write them as a dataset cache.

    Each split stores ``clean`` and ``noisy`` (N, samples) float32 with ``noisy = clean + noise``,
    ``snr`` (float32, dB), ``rt60`` (float32, s; 0 for dry speech), ``noise_type`` and ``voice``
    (int16 indexes into ``manifest["labels"]``) and ``item_id``. Train holds ``TRAIN_VARIANTS``
    with the noise types not held out, valid ``VALID_VARIANTS`` with the same noise types, test
    ``TEST_VARIANTS`` with the held-out noise types only; noise types take turns, so each split
    holds them in equal numbers. The manifest's ``heldout`` entry lists what only test holds.

    Parameters
    ----------
    out_root : str or PathLike
        The cache folder to write (replaced when complete).
    train_segments, valid_segments, test_segments : int
        Mixtures per split (train at least 1). About 0.4 utterances are rendered per mixture.
    segment_seconds : float
        Length of every item, in [0.25, 10] s.
    sr : int
        Sample rate (8000-48000 Hz).
    snr_db : (float, float)
        SNR range in dB, drawn uniformly; within [-30, 50].
    test_snr_db : sequence of float, optional
        Fixed SNRs the test mixtures take in turn (e.g. ``[0, 5, 10, 15]``) instead of drawing.
    reverb_probability : float
        Fraction of utterances reverberated with a synthetic room response, in [0, 1].
    heldout_noise_types : sequence of str
        Noise types only the test split holds (at least one, not all).
    languages : sequence of str, optional
        Languages of ``SENTENCES`` to speak; default all.
    seed : int
        Seed of every random choice; the same seed gives the same cache.
    workers : int
        espeak-ng processes run at once (1-32); does not change the result.
    progress : callable, optional
        Called as ``progress(description, done, total)``.

    Returns
    -------
    Path
        ``out_root``.

    Raises
    ------
    ToolMissingError
        If espeak-ng is not installed.
    ParameterError
        If a parameter is out of range.
    MediaError
        If espeak-ng fails.

    Examples
    --------
    >>> prepare_speech_noise("sn-tiny", train_segments=20, valid_segments=4,
    ...                      test_segments=4)  # doctest: +SKIP
    PosixPath('sn-tiny')
    """
    languages_given = languages
    languages = list(SENTENCES) if languages is None else list(languages)
    heldout = list(heldout_noise_types)
    snr_range = (float(snr_db[0]), float(snr_db[1])) if len(snr_db) == 2 else ()
    test_snrs = None if test_snr_db is None else [float(s) for s in test_snr_db]
    counts = {"train": train_segments, "valid": valid_segments, "test": test_segments}
    _check_parameters(
        counts, segment_seconds, sr, snr_range, test_snrs, reverb_probability, heldout,
        languages, workers,
    )  # fmt: skip
    espeak = require("espeak-ng")
    length = int(round(segment_seconds * sr))
    train_noises = [name for name in NOISE_TYPES if name not in heldout]
    split_noises = {"train": train_noises, "valid": train_noises, "test": heldout}
    split_variants = {"train": TRAIN_VARIANTS, "valid": VALID_VARIANTS, "test": TEST_VARIANTS}

    specs = {
        split: _utterance_specs(split_variants[split], languages, counts[split], seed, index)
        for index, split in enumerate(SPLITS)
    }
    pools = _render_all(specs, sr, espeak, workers, progress)
    voices = sorted({spec.voice for split in SPLITS for spec in specs[split]})
    voice_index = {voice: i for i, voice in enumerate(voices)}

    fields_by_split = {}
    done, total = 0, sum(counts.values())
    for split_index, split in enumerate(SPLITS):
        count = counts[split]
        arrays = {
            "clean": np.zeros((count, length), np.float32),
            "noisy": np.zeros((count, length), np.float32),
            "snr": np.zeros(count, np.float32),
            "rt60": np.zeros(count, np.float32),
            "noise_type": np.zeros(count, np.int16),
            "voice": np.zeros(count, np.int16),
        }
        ids = []
        noises = split_noises[split]
        for item in range(count):
            rng = np.random.default_rng([seed, split_index, 1, item])
            noise_type = noises[item % len(noises)]
            if split == "test" and test_snrs:
                snr = test_snrs[(item // len(noises)) % len(test_snrs)]
            else:
                snr = float(rng.uniform(*snr_range))
            mixture = _mix(
                pools[split], specs[split], noise_type, snr, length, sr, rng, reverb_probability
            )
            clean, noisy, voice, rt60 = mixture
            arrays["clean"][item], arrays["noisy"][item] = clean, noisy
            arrays["snr"][item], arrays["rt60"][item] = snr, rt60
            arrays["noise_type"][item] = NOISE_TYPES.index(noise_type)
            arrays["voice"][item] = voice_index[voice]
            ids.append(f"{voice}~{noise_type}~{item:06d}")
            done += 1
            if progress is not None and (done % 50 == 0 or done == total):
                progress(f"mix {DATASET_NAME}", done, total)
        arrays["item_id"] = np.asarray(ids, dtype=str) if ids else np.zeros(0, dtype="<U1")
        fields_by_split[split] = arrays

    params = {
        "train_segments": train_segments,
        "valid_segments": valid_segments,
        "test_segments": test_segments,
        "segment_seconds": segment_seconds,
        "sr": sr,
        "snr_db": list(snr_range),
        "test_snr_db": test_snrs,
        "reverb_probability": reverb_probability,
        "heldout_noise_types": heldout,
        "languages": None if languages_given is None else languages,
        "spoken_languages": languages,
        "seed": seed,
        "synthesizer": tool_status("espeak-ng").version,
        "split": "by voice variant and noise type (speech_noise_split), not by hash",
        "target": "the clean speech, reverberant where reverberated (denoising, not dereverb)",
    }
    extra = {
        "heldout": {
            "test_variants": list(TEST_VARIANTS),
            "valid_variants": list(VALID_VARIANTS),
            "train_variants": list(TRAIN_VARIANTS),
            "test_noise_types": heldout,
            "train_noise_types": train_noises,
            "test_voices": sorted({spec.voice for spec in specs["test"]}),
            "valid_voices": sorted({spec.voice for spec in specs["valid"]}),
        }
    }
    labels = {"noise_type": list(NOISE_TYPES), "voice": voices}
    return write_cache(out_root, DATASET_NAME, params, fields_by_split, labels=labels, extra=extra)


def _utterance_specs(
    variants: Sequence[str], languages: Sequence[str], segments: int, seed: int, split_index: int
) -> list[UtteranceSpec]:
    if segments == 0:
        return []
    rng = np.random.default_rng([seed, split_index, 0])
    count = max(min(MIN_UTTERANCES, segments + 4), math.ceil(segments * UTTERANCES_PER_SEGMENT))
    specs = []
    for _ in range(count):
        language = languages[int(rng.integers(len(languages)))]
        variant = variants[int(rng.integers(len(variants)))]
        sentences = SENTENCES[language]
        specs.append(
            UtteranceSpec(
                voice=f"{language}+{variant}",
                text=sentences[int(rng.integers(len(sentences)))],
                speed=int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1)),
                pitch=int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
            )
        )
    return specs


def _render_all(
    specs: dict[str, list[UtteranceSpec]],
    sr: int,
    espeak: str,
    workers: int,
    progress: ProgressCallback | None,
) -> dict[str, list[np.ndarray]]:
    flat = [(split, spec) for split in SPLITS for spec in specs[split]]
    pools: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # espeak-ng runs in its own process, so threads render in parallel.
        rendered = pool.map(lambda pair: render_utterance(pair[1], sr, espeak), flat)
        for done, ((split, _), audio) in enumerate(zip(flat, rendered, strict=True), start=1):
            pools[split].append(audio.astype(np.float64))
            if progress is not None and (done % 20 == 0 or done == len(flat)):
                progress("speak with espeak-ng", done, len(flat))
    return pools


def _mix(
    pool: list[np.ndarray],
    specs: list[UtteranceSpec],
    noise_type: str,
    snr: float,
    length: int,
    sr: int,
    rng: np.random.Generator,
    reverb_probability: float,
) -> tuple[np.ndarray, np.ndarray, str, float]:
    """Return (clean, noisy, voice, rt60) of one mixture."""
    for _ in range(20):
        index = int(rng.integers(len(pool)))
        speech = pool[index]
        rt60 = 0.0
        if rng.random() < reverb_probability:
            rt60 = float(rng.uniform(0.2, 0.8))
            speech = sps.fftconvolve(speech, room_impulse_response(rt60, sr, rng))
        clean = _place(speech, length, rng)
        rms = math.sqrt(float(np.mean(clean**2)))
        if rms >= MIN_SPEECH_RMS:
            break
    else:  # twenty crops of silence: espeak spoke nothing audible
        raise MediaError(f"espeak-ng voice {specs[index].voice} produced silent speech")
    clean *= 10.0 ** (rng.uniform(*SPEECH_LEVEL_DB) / 20.0) / rms
    others = [u for u, s in zip(pool, specs, strict=True) if s.variant != specs[index].variant]
    noise = synthesize_noise(noise_type, length, sr, rng, babble_pool=others or pool)
    noise *= math.sqrt(float(np.mean(clean**2))) / 10.0 ** (snr / 20.0)
    noisy = clean + noise
    peak = float(np.max(np.abs(noisy)))
    if peak > MAX_PEAK:
        clean *= MAX_PEAK / peak
        noisy *= MAX_PEAK / peak
    return clean.astype(np.float32), noisy.astype(np.float32), specs[index].voice, rt60


def _place(speech: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Crop a random ``length`` window of ``speech``, or put it at a random place in silence."""
    if speech.size >= length:
        start = int(rng.integers(0, speech.size - length + 1))
        return speech[start : start + length].copy()
    out = np.zeros(length)
    start = int(rng.integers(0, length - speech.size + 1))
    out[start : start + speech.size] = speech
    return out


def _check_parameters(
    counts: dict[str, int],
    segment_seconds: float,
    sr: int,
    snr_range: tuple[float, ...],
    test_snrs: list[float] | None,
    reverb_probability: float,
    heldout: list[str],
    languages: list[str],
    workers: int,
) -> None:
    for split, count in counts.items():
        least = 1 if split == "train" else 0
        if not least <= count <= 1_000_000:
            raise ParameterError(f"{split}_segments must be in [{least}, 1000000], got {count}")
    if not 0.25 <= segment_seconds <= 10.0:
        raise ParameterError(f"segment_seconds must be in [0.25, 10], got {segment_seconds}")
    if not 8000 <= sr <= 48_000:
        raise ParameterError(f"sr must be in [8000, 48000] Hz, got {sr}")
    if len(snr_range) != 2 or not -30.0 <= snr_range[0] < snr_range[1] <= 50.0:
        raise ParameterError(f"snr_db must be (low, high) within [-30, 50] dB, got {snr_range}")
    if test_snrs is not None and (not test_snrs or any(not -30 <= s <= 50 for s in test_snrs)):
        raise ParameterError(f"test_snr_db must be SNRs within [-30, 50] dB, got {test_snrs}")
    if not 0.0 <= reverb_probability <= 1.0:
        raise ParameterError(f"reverb_probability must be in [0, 1], got {reverb_probability}")
    unknown = [name for name in heldout if name not in NOISE_TYPES]
    if unknown or not heldout or len(set(heldout)) >= len(NOISE_TYPES):
        raise ParameterError(
            f"heldout_noise_types must be some but not all of {list(NOISE_TYPES)}, got {heldout}"
        )
    if not languages or any(language not in SENTENCES for language in languages):
        raise ParameterError(f"languages must be some of {list(SENTENCES)}, got {languages}")
    if not 1 <= workers <= 32:
        raise ParameterError(f"workers must be in [1, 32], got {workers}")
