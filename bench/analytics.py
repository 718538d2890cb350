"""Benchmark: our analytics pipeline vs ConvoKit's Coordination on the same synthetic corpus.

    python bench/analytics.py                 # 1,000,000 utterances (the target scale)
    python bench/analytics.py --quick         # 100,000 utterances
    python bench/analytics.py --n 300000 --convokit-python /path/to/venv/bin/python

Each side runs in its own fresh subprocess, which regenerates the same corpus from the same seed (generation is not
timed), so time and memory are measured in isolation:

* **ours** — ``reciprocity.analyze(table, use_codes=True)`` with its defaults (200 shuffle permutations, bootstrap
  CIs; ``--permutations`` changes the number) on an in-memory table: validation, codes, trajectories, pairs,
  reciprocity with null baselines, profiles, stages, alerts, lag-sequential and multilevel tables. No file I/O.
  The table is in the representation ``reciprocity.corpus.read`` returns (``reciprocity.corpus.compact``):
  ``conversation_id`` / ``speaker`` as object columns whose equal strings share one ``str`` object, ``text`` as
  Arrow-backed strings (``string[pyarrow]``), ``topics`` as lists shared between rows with the same topics,
  ``layer`` int8, ``turn`` int64, ``depth`` float64, ``disclosure`` bool. It is generated directly in that form
  (``synthetic_corpus(..., compact=True)``: same values as the plain form, no per-row Python objects) and passed
  through ``compact`` (a no-op on it); the process's RSS with the table loaded is reported as
  ``rss_with_table_mib``. The null baselines use the compiled (Numba) engine when installed (``null_engine``); its
  kernels are loaded (or, on a first run, compiled) before timing on a 400-utterance table, like the imports
  (``warmup_seconds``), and their memory counts in ``peak_mib``. ``--permutations`` is passed as ``n_permutations``. Stages and alerts (part of
  ``analyze``) are also re-run on the result and timed on their own as ``stages_and_advise``.
* **convokit** — from the plain form (Python lists/object arrays of per-row strings, as ConvoKit users hold them),
  building the ``Corpus`` from ``Utterance`` objects, then ``Coordination().fit`` + ``transform``
  (LIWC function-word coordination; it needs the text). ConvoKit lives in its own venv
  (default ``bench/.venv/bin/python``, ignored by git; set up with ``python3 -m venv bench/.venv &&
  bench/.venv/bin/pip install torch==2.13.0 convokit``).

Memory: peak resident set size (``VmHWM`` from ``/proc/self/status``) reset with ``/proc/self/clear_refs`` after
the corpus is generated (freed generation memory is first handed back with glibc's ``malloc_trim``, on both
sides), so ``peak_mib`` is the whole process's peak RSS during the timed phase (interpreter, imports and the
in-memory input included) and ``peak_delta_mib`` is that peak minus the RSS just before the phase (the phase's
own working memory). Results go to ``bench/results/analytics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "analytics.json"
DEFAULT_CONVOKIT_PYTHON = HERE / ".venv" / "bin" / "python"

FUNCTION_WORDS = (
    "the a an i me my we our you your he she they them it this that and but or so because if when "
    "is am are was were be been have has had do does did will would can could should not no never very really "
    "in on at to of for with about from by up out just also too then there here what how who"
).split()
CONTENT_WORDS = (
    "work job family mother father sister brother friend home city weekend coffee bus train weather music book "
    "film game team school class money rent house dog cat garden trip holiday food dinner lunch morning night "
    "feel think worry love hate afraid happy sad tired lonely proud ashamed anxious excited hope fear remember "
    "doctor health sleep run gym walk park news election church plan future past year week day time people"
).split()
TOPICS = ("religion", "marriage_family", "love_dating_sex", "parental_family", "physical_condition_appearance",
          "money_property", "politics_social_issues", "emotions", "interests_hobbies_habits",
          "relations_with_others", "attitudes_values", "school_work", "biographical")


def synthetic_corpus(n_utterances: int, seed: int = 0, *, compact: bool = False) -> dict[str, list | np.ndarray]:
    """Dyads of 10–40 turns with reciprocal depth dynamics, topics and words (numpy only; both venvs run it).

    ``compact=True`` returns the same values in the compact representation of ``reciprocity.corpus.compact``
    (needs pandas and pyarrow), built without per-row Python objects."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 41, size=n_utterances // 10 + 10)
    cum = np.cumsum(lengths)
    n_conv = int(np.searchsorted(cum, n_utterances) + 1)
    lengths = lengths[:n_conv].copy()
    lengths[-1] -= int(cum[n_conv - 1] - n_utterances)
    conv = np.repeat(np.arange(n_conv), lengths)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    position = np.arange(n_utterances) - starts[conv]
    # speakers alternate, with occasional double turns
    switch = (rng.random(n_utterances) > 0.1) | (position == 0)
    side = (np.cumsum(switch) - np.cumsum(switch)[starts][conv]) % 2
    # depth: d_t = 0.45·d_{t-1}(partner) + openness + slow deepening + noise, clipped to 0–3 (vectorised over dyads)
    openness = rng.normal(0.3, 0.4, size=n_conv)[conv]
    trend = 1.6 * position / lengths[conv]
    noise = rng.normal(0, 0.6, size=n_utterances)
    depth = np.zeros(n_utterances)
    for t in range(int(lengths.max())):
        rows = np.flatnonzero(position == t)
        previous = depth[rows - 1] if t else 0.0
        depth[rows] = np.clip(0.45 * previous + openness[rows] + trend[rows] + noise[rows], 0, 3)
    depth = np.round(depth * 2) / 2  # half-layer steps, like averaged coder scores
    layer = np.rint(depth).astype(np.int64)
    disclosure = layer > 0
    topic_a = rng.integers(0, len(TOPICS), size=n_utterances)
    topic_b = rng.integers(0, len(TOPICS), size=n_utterances)
    two = rng.random(n_utterances) < 0.3
    vocab = np.array(FUNCTION_WORDS + CONTENT_WORDS, dtype=object)
    n_words = rng.integers(4, 21, size=n_utterances)
    weights = np.r_[np.full(len(FUNCTION_WORDS), 2.0), np.ones(len(CONTENT_WORDS))]
    words = rng.choice(len(vocab), size=int(n_words.sum()), p=weights / weights.sum())
    bounds = np.r_[0, np.cumsum(n_words)]
    if compact:
        return _compact_columns(conv, side, position, disclosure, depth, layer, topic_a, topic_b, two, vocab, words,
                                bounds)
    topics = [
        [] if not d else ([TOPICS[a], TOPICS[b]] if w and a != b else [TOPICS[a]])
        for d, a, b, w in zip(disclosure, topic_a, topic_b, two)
    ]
    flat = vocab[words]
    text = [" ".join(flat[bounds[i]:bounds[i + 1]]) for i in range(n_utterances)]
    conversation_id = np.char.add("c", conv.astype(str))
    speaker = np.char.add(np.char.add(conversation_id, "_s"), side.astype(str))
    return {
        "conversation_id": conversation_id.astype(object),
        "speaker": speaker.astype(object),
        "turn": position,
        "text": text,
        "disclosure": disclosure,
        "depth": depth,
        "layer": layer,
        "topics": topics,
    }


def _compact_columns(conv, side, position, disclosure, depth, layer, topic_a, topic_b, two, vocab, words, bounds):
    """The same values as :func:`synthetic_corpus`'s plain columns, built directly in the compact form that
    ``reciprocity.corpus.read`` returns (see ``reciprocity.corpus.compact``) without a per-row Python object
    ever existing: shared strings for ids, Arrow strings for text, shared topic lists, int8 layers."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n_conv = int(conv.max()) + 1
    conversation_names = np.char.add("c", np.arange(n_conv).astype(str)).astype(object)
    speaker_names = np.char.add(np.char.add(np.repeat(conversation_names.astype(str), 2), "_s"),
                                np.tile(["0", "1"], n_conv)).astype(object)
    # topic lists: one shared list per distinct (disclosed, a, b, two-topic) outcome
    has_two = two & (topic_a != topic_b)
    key = np.where(disclosure, 1 + topic_a * len(TOPICS) + np.where(has_two, topic_b, topic_a), 0)
    lists = [[]] + [[TOPICS[k // len(TOPICS)]] if k // len(TOPICS) == k % len(TOPICS)
                    else [TOPICS[k // len(TOPICS)], TOPICS[k % len(TOPICS)]] for k in range(len(TOPICS) ** 2)]
    topics = np.empty(len(lists), dtype=object)
    topics[:] = lists
    # text: words joined by spaces, in Arrow (offsets into one buffer)
    dictionary = pa.DictionaryArray.from_arrays(pa.array(words.astype(np.int32)), pa.array(list(vocab), pa.large_string()))
    flat_words = dictionary.cast(pa.large_string())
    text = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(bounds, pa.int64()), flat_words),
                          pa.scalar(" ", pa.large_string()))
    del dictionary, flat_words
    return {
        "conversation_id": conversation_names.take(conv),
        "speaker": speaker_names.take(conv * 2 + side),
        "turn": position,
        "text": pd.arrays.ArrowStringArray(pa.chunked_array([text])),   # dtype "string[pyarrow]"
        "disclosure": disclosure,
        "depth": depth,
        "layer": layer.astype(np.int8),
        "topics": topics.take(key),
    }


# ----------------------------------------------------------------------------------------------- measurement


def _status(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0  # MiB
    return float("nan")


def _trim() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``) so that the transient memory of corpus
    generation does not count as resident in the timed phase; done on both sides after generation."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Phase:
    """Wall time and peak RSS of a block (peak reset at entry)."""

    def __enter__(self):
        self.reset = _reset_peak()
        self.rss_before = _status("VmRSS")
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.peak = _status("VmHWM")
        return False

    def record(self) -> dict:
        return {"seconds": round(self.seconds, 3), "rss_before_mib": round(self.rss_before, 1),
                "peak_mib": round(self.peak, 1), "peak_delta_mib": round(self.peak - self.rss_before, 1),
                "peak_reset": self.reset}


def _time_components(module) -> dict[str, float]:
    """Wrap the measure functions the pipeline module calls with timers (names as in that module)."""
    import functools
    import types

    totals: dict[str, float] = {}
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and (value.__module__ or "").startswith(
                ("reciprocity.measure", "reciprocity.corpus")):
            def timed(*args, __f=value, __name=name, **kwargs):
                start = time.perf_counter()
                try:
                    return __f(*args, **kwargs)
                finally:
                    totals[__name] = totals.get(__name, 0.0) + time.perf_counter() - start
            setattr(module, name, functools.wraps(value)(timed))
    return totals


def run_ours(n: int, seed: int, n_permutations: int = 200) -> dict:
    sys.path.insert(0, str(HERE.parent / "src"))
    import pandas as pd

    import reciprocity
    from reciprocity.advise import advise
    from reciprocity.measure.stages import stages

    from reciprocity.corpus import compact

    from reciprocity.measure import reciprocity_tests, turn_pairs
    from reciprocity.measure.reciprocity import null_engines

    # compiled null kernels: loaded from Numba's cache (or compiled on a first run) before timing, like the imports;
    # the time is reported as warmup_seconds (its memory stays in the process and counts in peak_mib)
    warm_start = time.perf_counter()
    small = pd.DataFrame(synthetic_corpus(400, seed, compact=True))
    reciprocity_tests(small, turn_pairs(small), n_permutations=3, n_boot=3)
    warmup_seconds = time.perf_counter() - warm_start
    del small
    import_rss = _status("VmRSS")
    # the table as reciprocity.corpus.read returns it (compact form), built without per-row Python objects
    table = compact(pd.DataFrame(synthetic_corpus(n, seed, compact=True), copy=False))
    _trim()
    out = {"side": "ours", "n_utterances": len(table), "n_conversations": int(table["conversation_id"].nunique()),
           "n_permutations": n_permutations, "null_engine": null_engines()[0],
           "warmup_seconds": round(warmup_seconds, 2),
           "rss_after_imports_mib": round(import_rss, 1), "rss_with_table_mib": round(_status("VmRSS"), 1),
           "table_dtypes": {k: str(v) for k, v in table.dtypes.items()}}
    components = _time_components(sys.modules["reciprocity.analyze"])
    with Phase() as phase:
        result = reciprocity.analyze(table, use_codes=True, n_permutations=n_permutations)
    out["analyze"] = phase.record()
    out["analyze_components_seconds"] = {k: round(v, 3) for k, v in sorted(components.items(), key=lambda kv: -kv[1])}
    out["summary_check"] = {"lagged_matching": result.summary["reciprocity"]["lagged_matching"]["observed"],
                            "n_exchanges": result.summary["n_exchanges"]}
    with Phase() as phase:
        staged = stages(result.utterances)
        alerts = advise(result.utterances)
    out["stages_and_advise"] = phase.record()
    out["n_alerts"] = int(len(alerts))
    out["stage_counts"] = {str(k): int(v) for k, v in staged["stage"].value_counts().items()}
    return out


def run_convokit(n: int, seed: int) -> dict:
    from importlib.metadata import version

    from convokit import Coordination, Corpus, Speaker, Utterance

    data = synthetic_corpus(n, seed)
    _trim()
    out = {"side": "convokit", "convokit_version": version("convokit"), "n_utterances": n}
    with Phase() as build:
        speakers = {name: Speaker(id=name) for name in dict.fromkeys(data["speaker"])}
        utterances = []
        previous_id, previous_conv, root = None, None, None
        for i, (c, s, text) in enumerate(zip(data["conversation_id"], data["speaker"], data["text"])):
            uid = f"u{i}"
            reply = previous_id if c == previous_conv else None
            root = root if reply else uid  # ConvoKit's conversation id is the id of its first utterance
            utterances.append(Utterance(id=uid, speaker=speakers[s], conversation_id=root,
                                        reply_to=reply, text=text))
            previous_id, previous_conv = uid, c
        corpus = Corpus(utterances=utterances)
    out["build_corpus"] = build.record()
    del utterances
    with Phase() as phase:
        coordination = Coordination()
        coordination.fit(corpus)
        coordination.transform(corpus)
    out["coordination"] = phase.record()
    scored = sum(1 for sp in corpus.iter_speakers() if sp.meta.get("coord"))
    out["speakers_with_scores"] = scored
    return out


# ----------------------------------------------------------------------------------------------- driver


def _child(python: str, side: str, n: int, seed: int, timeout: int, permutations: int = 200) -> dict:
    command = [python, str(Path(__file__).resolve()), "--side", side, "--n", str(n), "--seed", str(seed),
               "--permutations", str(permutations)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"side": side, "error": f"timed out after {timeout} s"}
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"side": side, "error": f"exit {proc.returncode}", "stderr_tail": proc.stderr[-2000:]}
    result = json.loads(lines[-1])
    result["subprocess_wall_seconds"] = round(wall, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="utterances (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 utterances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--convokit-python", default=os.environ.get("CONVOKIT_PYTHON", str(DEFAULT_CONVOKIT_PYTHON)))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per side")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--permutations", type=int, default=200,
                        help="shuffle/circular null draws for ours (analyze's n_permutations; default 200)")
    parser.add_argument("--side", choices=["ours", "convokit"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = 100_000 if args.quick and args.n == 1_000_000 else args.n
    if args.side == "ours":
        print(json.dumps(run_ours(n, args.seed, args.permutations)))
        return 0
    if args.side == "convokit":
        print(json.dumps(run_convokit(n, args.seed)))
        return 0

    report: dict = {"n_utterances": n, "seed": args.seed, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    print(f"ours: reciprocity.analyze(use_codes=True) on {n:,} utterances …", flush=True)
    report["ours"] = _child(sys.executable, "ours", n, args.seed, args.timeout, args.permutations)
    convokit_python = Path(args.convokit_python)
    if not convokit_python.exists():
        report["convokit"] = {"error": f"ConvoKit venv not found at {convokit_python}; create it with "
                                       "`python3 -m venv bench/.venv && bench/.venv/bin/pip install torch==2.13.0 convokit`"}
    else:
        print(f"convokit: Corpus + Coordination on {n:,} utterances …", flush=True)
        report["convokit"] = _child(str(convokit_python), "convokit", n, args.seed, args.timeout)
    ours, theirs = report["ours"], report["convokit"]
    if "analyze" in ours and "coordination" in theirs:
        o, c, b = ours["analyze"], theirs["coordination"], theirs["build_corpus"]
        report["comparison"] = {
            "speedup_vs_coordination": round(c["seconds"] / o["seconds"], 2),
            "speedup_vs_corpus_plus_coordination": round((c["seconds"] + b["seconds"]) / o["seconds"], 2),
            "peak_rss_ratio_ours_over_convokit": round(o["peak_mib"] / max(c["peak_mib"], b["peak_mib"]), 3),
            "working_memory_ratio_ours_over_coordination": round(o["peak_delta_mib"] / c["peak_delta_mib"], 3),
            "targets": {"speedup": ">= 20x", "memory": "<= 1/4"},
        }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
