"""The ``hf`` runner: local weights through transformers, batched inside the runner.

The engine sends one request at a time (many in flight); the runner queues them and decodes
them in batches: requests with the same generation parameters, sorted by prompt length so
that batches waste little padding, left-padded, with its own decode loop over a KV cache. A
row that finishes (EOS, a stop sequence, max tokens) leaves the batch and its cache at once,
so it stops costing work. Greedy decoding gives each sample the same tokens whether it runs
alone or in a batch (up to floating-point ties); sampling draws each sample's tokens from its
own generator seeded by (seed, sample id, sample index), so batching does not change them
either, up to the same ties.

Self-hosting is not free: each batch's wall time x devices is shared among its samples and
priced per device-hour (``--gpu-hourly-usd``, default a stated market rate for the device).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.fim import FimFormat, detect_fim_format, fim_prompt
from evalkit.hourly import default_hourly_usd
from evalkit.records import Completion, GenerationParams, GenerationRequest
from evalkit.runner import Runner

INSTALL_HINT = "the hf runner needs torch and transformers: pip install 'evalkit[local]'"
LINGER_S = 0.01
"""How long the batcher waits for more requests after the first one arrives."""


@cache
def torch_thread() -> ThreadPoolExecutor:
    """The one thread that runs this process's torch work.

    Torch work spread over several threads starts an OpenMP team per thread, and idle teams
    spin, slowing the busy one down (by 2x on 2 cores, measured): keep it all on one thread.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="evalkit-torch")


def _import_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise EvalkitError(INSTALL_HINT) from exc
    return torch, transformers


class HFRunner(Runner):
    """Local transformers model (hf:hub-id or hf:./folder), batched greedy or seeded sampling."""

    name = "hf"
    cacheable = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        extra = self.options.extra
        self.device_choice = str(extra.get("device") or "auto")
        batch = extra.get("batch_size") or "auto"
        self.auto_batch = batch == "auto"
        self.batch_size = 16 if self.auto_batch else int(str(batch))
        self.trust_remote_code = bool(extra.get("trust_remote_code", False))
        self.hourly_usd_override = extra.get("gpu_hourly_usd")
        self.fim_format_name = extra.get("fim_format")
        self._model: Any = None
        self._tokenizer: Any = None
        self._pending: list[tuple[GenerationRequest, asyncio.Future[Completion]]] = []
        self._wakeup: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.stats = {"batches": 0, "tokens_out": 0, "generate_s": 0.0, "device_s": 0.0}
        self._style_set = self.model.prompt_style is not None
        self._torch_thread = torch_thread()

    @property
    def concurrency(self) -> int:
        # Enough requests in flight to fill and sort several batches.
        return self.options.concurrency or max(64, 4 * self.batch_size)

    # -- loading ---------------------------------------------------------------------------

    def check_ready(self) -> None:
        _import_torch()
        path = self.model.model_id
        if path.startswith((".", "/", "~")) and not Path(path).expanduser().exists():
            raise EvalkitError(f"no model folder at {path}")
        self._load()

    def _load(self) -> None:
        if self._model is None:
            self._torch_thread.submit(self._load_now).result()

    def _load_now(self) -> None:
        torch, transformers = _import_torch()
        transformers.utils.logging.disable_progress_bar()
        self.device = self._pick_device(torch)
        if self.auto_batch and self.device.startswith("cuda"):
            self.batch_size = 64  # start large on a GPU; out-of-memory halves it
        dtype = torch.float32
        if self.device.startswith("cuda") and torch.cuda.is_bf16_supported():
            dtype = torch.bfloat16
        source = (
            str(Path(self.model.model_id).expanduser())
            if self.model.model_id.startswith((".", "/", "~"))
            else self.model.model_id
        )
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                source, trust_remote_code=self.trust_remote_code
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                source, dtype=dtype, trust_remote_code=self.trust_remote_code
            )
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EvalkitError(f"cannot load {self.model.spec}: {first}") from exc
        model.to(self.device).eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._tokenizer, self._model, self.dtype = tokenizer, model, dtype
        if not self._style_set:
            self.prompt_style = (
                "chat" if getattr(tokenizer, "chat_template", None) else ("completion")
            )

    @cached_property
    def _fim(self) -> tuple[FimFormat, set[int]]:
        """The model's FIM format and the ids of its end-of-middle tokens, found once (reading
        the tokenizer's vocabulary is too slow to repeat per request)."""
        self._load()
        fmt = detect_fim_format(self._tokenizer, self.fim_format_name, self.model.spec)
        vocab = self._tokenizer.get_vocab()
        return fmt, {vocab[t] for t in fmt.stop_tokens if t in vocab}

    def supports_fim(self) -> bool:
        try:
            fmt, _ = self._fim
        except EvalkitError:
            return False
        return fmt is not None

    def _pick_device(self, torch: Any) -> str:
        if self.device_choice != "auto":
            return self.device_choice
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"

    # -- the per-request interface -------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> Completion:
        self._load()
        loop = asyncio.get_running_loop()
        if request.style == "logprob":
            return await loop.run_in_executor(self._torch_thread, self._logprob_answer, request)
        future: asyncio.Future[Completion] = loop.create_future()
        self._pending.append((request, future))
        if self._loop_task is None or self._loop_task.done():
            self._wakeup = asyncio.Event()
            self._loop_task = asyncio.create_task(self._batch_loop())
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def _batch_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(LINGER_S)
            while self._pending:
                batch = self._take_batch()
                requests = [r for r, _ in batch]
                try:
                    results = await asyncio.get_running_loop().run_in_executor(
                        self._torch_thread, self._run_batch, requests
                    )
                except _OutOfMemory:
                    if len(batch) == 1:
                        for _, fut in batch:
                            fut.set_exception(EvalkitError("out of memory with batch size 1"))
                        continue
                    self.batch_size = max(1, len(batch) // 2)  # back off and go on
                    self._pending[:0] = batch
                    continue
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), completion in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(completion)

    def _take_batch(self) -> list[tuple[GenerationRequest, asyncio.Future[Completion]]]:
        """The oldest request's parameter group, shortest prompts first, one batch of it."""
        params = self._pending[0][0].params
        group = [item for item in self._pending if item[0].params == params]
        group.sort(key=lambda item: len(self._prompt_text(item[0])))
        batch = group[: self.batch_size]
        chosen = {id(item) for item in batch}
        self._pending = [item for item in self._pending if id(item) not in chosen]
        return batch

    # -- prompts --------------------------------------------------------------------------------

    def _prompt_text(self, request: GenerationRequest) -> str:
        sample = request.sample
        if request.style == "chat":
            messages = [m.model_dump() for m in sample.messages] or [
                {"role": "user", "content": sample.prompt}
            ]
            if not getattr(self._tokenizer, "chat_template", None):
                raise EvalkitError(
                    f"{self.model.spec} has no chat template; use --prompt-style completion"
                )
            text: str = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            return text
        if request.style == "fim":
            fmt, _ = self._fim
            return fim_prompt(fmt, sample.metadata["fim_prefix"], sample.metadata["fim_suffix"])
        return sample.prompt

    def _encode(self, request: GenerationRequest) -> list[int]:
        text = self._prompt_text(request)
        ids: list[int] = self._tokenizer(text, add_special_tokens=request.style != "chat")[
            "input_ids"
        ]
        return ids

    # -- decoding ---------------------------------------------------------------------------------

    def _run_batch(self, requests: list[GenerationRequest]) -> list[Completion]:
        torch, _ = _import_torch()
        start = time.perf_counter()
        prompts = [self._encode(r) for r in requests]
        extra_eos = self._fim[1] if requests[0].style == "fim" else set()
        try:
            outputs = decode_batch(
                self._model,
                tokenizer=self._tokenizer,
                prompts=prompts,
                requests=requests,
                device=self.device,
                extra_eos=extra_eos,
            )
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower() or type(exc).__name__.endswith(
                "OutOfMemoryError"
            ):
                if self.device.startswith("cuda"):
                    torch.cuda.empty_cache()
                raise _OutOfMemory from exc
            raise
        elapsed = time.perf_counter() - start
        devices = 1
        device_s = elapsed * devices
        hourly = self.hourly_usd()
        self.stats["batches"] += 1
        self.stats["generate_s"] += elapsed
        self.stats["device_s"] += device_s
        completions = []
        for prompt, (tokens, text, reason) in zip(prompts, outputs, strict=True):
            self.stats["tokens_out"] += len(tokens)
            share = device_s / len(requests)
            completions.append(
                Completion(
                    text=text,
                    tokens_in=len(prompt),
                    tokens_out=len(tokens),
                    latency_s=elapsed,
                    cost_usd=share * hourly / 3600,
                    finish_reason=reason,
                    metadata={"usage": {"device_ms": round(share * 1000)}},
                )
            )
        return completions

    def _logprob_answer(self, request: GenerationRequest) -> Completion:
        """The option whose continuation is most likely after the prompt (lm-eval's way)."""
        torch, _ = _import_torch()
        start = time.perf_counter()
        options: list[str] = request.sample.metadata["continuations"]
        context = self._tokenizer(request.sample.prompt)["input_ids"]
        endings = [self._tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
        width = len(context) + max(len(e) for e in endings)
        ids = torch.full((len(options), width), self._tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, ending in enumerate(endings):
            sequence = context + ending
            ids[row, : len(sequence)] = torch.tensor(sequence)
            mask[row, : len(sequence)] = 1
        with torch.inference_mode():
            logits = self._model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1)
        totals = []
        for row, ending in enumerate(endings):
            positions = range(len(context) - 1, len(context) - 1 + len(ending))
            totals.append(
                sum(float(logprobs[row, p, t]) for p, t in zip(positions, ending, strict=True))
            )
        best = max(range(len(options)), key=totals.__getitem__)
        elapsed = time.perf_counter() - start
        self.stats["device_s"] += elapsed
        return Completion(
            text=options[best].strip(),
            tokens_in=len(context),
            tokens_out=0,
            latency_s=elapsed,
            cost_usd=elapsed * self.hourly_usd() / 3600,
            finish_reason="logprob",
            metadata={"logprobs": totals},
        )

    def hourly_usd(self) -> float:
        if self.hourly_usd_override is not None:
            return float(str(self.hourly_usd_override))
        return default_hourly_usd(self.device_name())

    def device_name(self) -> str:
        torch, _ = _import_torch()
        if self.device.startswith("cuda"):
            return str(torch.cuda.get_device_name(self.device))
        return "cpu"

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {
            **super().describe(),
            "self_hosted": True,
            "batch_size": "auto" if self.auto_batch else self.batch_size,
        }
        if self._model is not None and self.prompt_style == "fim":
            info["fim_format"] = self._fim[0].name
        if self._model is not None:
            torch, _ = _import_torch()
            generate_s = float(self.stats["generate_s"])
            info.update(
                device=self.device,
                device_name=self.device_name(),
                dtype=str(self.dtype),
                hourly_usd=self.hourly_usd(),
                final_batch_size=self.batch_size,
                tokens_per_s=self.stats["tokens_out"] / generate_s if generate_s else None,
                device_seconds=self.stats["device_s"],
                peak_memory_bytes=_peak_memory(torch, self.device),
            )
        return info

    async def aclose(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            self._loop_task = None


class _OutOfMemory(Exception):
    pass


def _peak_memory(torch: Any, device: str) -> int:
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(device))
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _generator(torch: Any, request: GenerationRequest, device: str) -> Any:
    seed_text = f"{request.params.seed}:{request.sample.id}:{request.sample_index}"
    seed = int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:8], "little")
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def _choose(torch: Any, logits: Any, params: GenerationParams, generators: list[Any]) -> Any:
    if params.temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p is not None and params.top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < params.top_p
        sorted_probs = sorted_probs * keep
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    rows = [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generators)]
    return torch.cat(rows)


def decode_batch(
    model: Any,
    *,
    tokenizer: Any,
    prompts: list[list[int]],
    requests: list[GenerationRequest],
    device: str,
    extra_eos: set[int] | None = None,
) -> list[tuple[list[int], str, str]]:
    """Left-padded batched decoding with a KV cache; finished rows leave the batch.

    Returns, per prompt, (new token ids, text cut at the first stop sequence, finish reason).
    """
    torch, transformers = _import_torch()
    params = requests[0].params
    eos = _eos_ids(model, tokenizer) | (extra_eos or set())
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    generators = [_generator(torch, r, device) for r in requests]
    stops = params.stop
    new_tokens: list[list[int]] = [[] for _ in prompts]
    texts = [""] * len(prompts)
    reasons = ["length"] * len(prompts)
    active = list(range(len(prompts)))
    cache = transformers.DynamicCache(config=model.config)
    with torch.inference_mode():
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        ).logits[:, -1, :]
        for _step in range(params.max_tokens):
            chosen = _choose(torch, logits, params, [generators[i] for i in active])
            keep: list[int] = []
            for row, original in enumerate(active):
                token = int(chosen[row])
                if token in eos:
                    reasons[original] = "stop"
                    continue
                new_tokens[original].append(token)
                if stops and _hit_stop(tokenizer, new_tokens[original], stops):
                    reasons[original] = "stop"
                    continue
                if len(new_tokens[original]) >= params.max_tokens:
                    continue
                keep.append(row)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=mask.device)
                cache.batch_select_indices(index)
                mask, chosen = mask[index], chosen[index]
                active = [active[row] for row in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
            positions = mask.sum(-1, keepdim=True) - 1
            logits = model(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
            ).logits[:, -1, :]
    for i, tokens in enumerate(new_tokens):
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        texts[i] = _cut_at_stop(text, stops)
    return [(new_tokens[i], texts[i], reasons[i]) for i in range(len(prompts))]


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, list):
        ids.update(configured)
    return {i for i in ids if i is not None}


def _hit_stop(tokenizer: Any, tokens: list[int], stops: tuple[str, ...]) -> bool:
    """Whether the recent text contains a stop sequence (only the tail is decoded)."""
    longest = max(len(s) for s in stops)
    tail = tokenizer.decode(tokens[-(longest + 8) :], skip_special_tokens=True)
    return any(s in tail for s in stops)


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]
