"""Build an FSDD-layout mirror from synthesized speech, for machines that cannot download FSDD.

What it is: *not* FSDD. Every recording is text-to-speech from Debian packages, post-processed to sound less
uniform. "Speakers" are TTS voices:

* flite (``apt-get install flite``): ``awb``, ``rms``, ``slt`` (statistical parametric voices trained on the
  recordings of three real CMU ARCTIC speakers) and ``kal`` (a diphone voice);
* espeak-ng (``apt-get install espeak-ng``): four formant-synthesis accents/variants (US female, Scottish
  male, Caribbean male, RP female).

Each of the 50 takes per digit and speaker draws its own speaking rate and pitch in the synthesizer, then
sox (``apt-get install sox``) shifts pitch by up to +-1 semitone, changes tempo by up to +-10 %, band-limits
like a cheap microphone, trims the silence (as FSDD's recordings are trimmed) and resamples to 8 kHz mono
16-bit; finally white noise is added at 25-45 dB SNR.

Layout (exactly FSDD's): ``<out>/free-spoken-digit-dataset-<version>/recordings/{digit}_{speaker}_{index}.wav``
and a zip of that folder, ``<out>/v<version>.zip``, shaped like GitHub's tag archive, so that
``data.url=file://<out>/v<version>.zip`` (or an HTTP server over ``<out>``) exercises the real download path.

    python scripts/make_fsdd_mirror.py --out data/fsdd_mirror
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import zipfile
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# speaker name -> (engine, voice, base pitch: flite f0 mean in Hz / espeak-ng pitch 0-99)
SPEAKERS = {
    "awb": ("flite", "awb", 110.0),
    "rms": ("flite", "rms", 105.0),
    "slt": ("flite", "slt", 175.0),
    "kal": ("flite", "kal16", 100.0),
    "usf": ("espeak-ng", "en-us+f3", 55.0),
    "scotm": ("espeak-ng", "en-gb-scotland+m2", 45.0),
    "caribm": ("espeak-ng", "en-029+m7", 40.0),
    "rpf": ("espeak-ng", "en-gb-x-rp+f2", 60.0),
}


def _synthesize(job: tuple[str, int, int, int, str]) -> str:
    speaker, digit, index, seed, recordings = job
    engine, voice, pitch = SPEAKERS[speaker]
    rng = np.random.default_rng([seed, digit, index, sum(map(ord, speaker))])
    out = Path(recordings) / f"{digit}_{speaker}_{index}.wav"
    with tempfile.TemporaryDirectory() as tmp:
        raw, shaped = Path(tmp) / "raw.wav", Path(tmp) / "shaped.wav"
        if engine == "flite":
            cmd = ["flite", "-voice", voice, "-t", DIGITS[digit], "-o", str(raw)]
            cmd += ["--setf", f"duration_stretch={rng.uniform(0.8, 1.3):.3f}"]
            cmd += ["--setf", f"int_f0_target_mean={pitch * rng.uniform(0.85, 1.15):.1f}"]
        else:
            cmd = ["espeak-ng", "-v", voice, "-w", str(raw), DIGITS[digit]]
            cmd += ["-s", str(int(rng.uniform(120, 190))), "-p", str(int(np.clip(pitch + rng.normal(0, 10), 0, 99)))]
        subprocess.run(cmd, check=True, capture_output=True)
        effects = ["highpass", f"{rng.uniform(50, 200):.0f}", "lowpass", f"{rng.uniform(2800, 3900):.0f}"]
        effects += ["pitch", f"{rng.uniform(-100, 100):.0f}", "tempo", f"{rng.uniform(0.9, 1.1):.3f}"]
        effects += ["silence", "1", "0.01", "1%", "reverse", "silence", "1", "0.01", "1%", "reverse"]
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(shaped), *effects],
            check=True,
            capture_output=True,
        )
        wave, rate = sf.read(str(shaped), dtype="float64")
    pad = rng.integers(0, 400, size=2)  # up to 50 ms of room tone on each side
    wave = np.concatenate([np.zeros(pad[0]), wave, np.zeros(pad[1])])
    power = np.mean(wave**2) if wave.size else 0.0
    wave = wave + rng.standard_normal(wave.size) * np.sqrt(power / 10 ** (rng.uniform(25, 45) / 10))
    wave = wave / max(np.abs(wave).max(), 1e-9) * rng.uniform(0.3, 0.95)
    sf.write(str(out), wave.astype(np.float32), rate, subtype="PCM_16")
    return out.name


def build(out: Path, version: str, per_digit: int, speakers: list[str], seed: int, workers: int) -> Path:
    """Write the recordings and the zip; returns the zip's path."""
    for tool in ("sox", *{SPEAKERS[s][0] for s in speakers}):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: apt-get install -y {tool}")
    top = out / f"free-spoken-digit-dataset-{version}"
    recordings = top / "recordings"
    if top.exists():
        shutil.rmtree(top)
    recordings.mkdir(parents=True)
    (top / "README.md").write_text(
        "Synthetic FSDD-layout mirror made by seqconv's scripts/make_fsdd_mirror.py: text-to-speech "
        f"(flite, espeak-ng) + sox, not the real Free Spoken Digit Dataset. Speakers: {', '.join(speakers)}.\n"
    )
    jobs = [(s, d, i, seed, str(recordings)) for s in speakers for d in range(10) for i in range(per_digit)]
    with Pool(workers) as pool:
        for n, _ in enumerate(pool.imap_unordered(_synthesize, jobs, chunksize=16), 1):
            if n % 500 == 0 or n == len(jobs):
                print(f"{n}/{len(jobs)} recordings", flush=True)
    archive = out / f"v{version}.zip"
    tmp = archive.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(top.rglob("*")):
            zf.write(path, path.relative_to(out).as_posix())
    os.replace(tmp, archive)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/fsdd_mirror"))
    parser.add_argument("--version", default="1.0.10")
    parser.add_argument("--per-digit", type=int, default=50, help="recordings per digit and speaker (FSDD: 50)")
    parser.add_argument("--speakers", nargs="+", default=list(SPEAKERS), choices=list(SPEAKERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    archive = build(args.out, args.version, args.per_digit, args.speakers, args.seed, args.workers)
    print(f"wrote {archive} ({archive.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
