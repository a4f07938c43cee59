"""Chat formatting shared by training, evaluation, selection and CoS-Low.

Everything goes through the tokenizer's own chat template, so a family only needs a
template (its own or one in config). Prompts are rendered as text and tokenized without
extra special tokens, which keeps the prompt/answer boundary exact: the answer tokens of a
training example are exactly the tokens generation would produce after the prompt.

Where the task instruction goes follows the paper (docs/METHOD.md section 4): in the system turn
when the family's chat template has a system role of its own (Llama-3.1, Qwen2.5), else in
the user turn as ``instruction + "\\n" + input`` (Mistral-v0.3, whose template either rejects a
system message or folds it into the user turn). Which case applies is read off the template
itself (:func:`has_system_role`), never from a list of family names, and every stage builds
its messages with :func:`messages_for`, so training, evaluation, the confidence pass and the
CoS-Low gradients all see the same prompt.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: Tokens that end an assistant turn in common chat formats.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<end_of_turn>", "<|endoftext|>")

_SYSTEM_PROBE = "QzSystemProbe"
_USER_PROBE = "QzUserProbe"


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool = True) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def system_role_of_template(tokenizer: Any) -> bool:
    """Whether the chat template gives a system message a turn of its own.

    Renders a probe conversation (system, user). The template has no system role when it
    raises on the system message, drops it, or folds it into the user turn (only whitespace
    between the system text and the user text, as Mistral-v0.3's template does).
    """
    try:
        text = _render(
            tokenizer, [{"role": "system", "content": _SYSTEM_PROBE}, {"role": "user", "content": _USER_PROBE}]
        )
    except Exception:  # template raises on a system message (e.g. "roles must alternate")
        return False
    s, u = text.find(_SYSTEM_PROBE), text.find(_USER_PROBE)
    if s < 0 or u < 0:
        return False
    between = text[s + len(_SYSTEM_PROBE) : u] if s < u else text[u + len(_USER_PROBE) : s]
    return bool(between.strip())


@lru_cache(maxsize=16)
def _has_system_role(tokenizer: Any, template: str | None) -> bool:
    return system_role_of_template(tokenizer)


def has_system_role(tokenizer: Any) -> bool:
    """Cached :func:`system_role_of_template` (keyed by tokenizer and template text)."""
    return _has_system_role(tokenizer, getattr(tokenizer, "chat_template", None))


def user_turn(system: str | None, prompt: str) -> str:
    """The user turn when the template has no system role: instruction, newline, input."""
    return f"{system}\n{prompt}" if system else prompt


def messages_for(tokenizer: Any, prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """The chat messages of one example: the one place every stage builds them.

    ``system`` (the task instruction) becomes the system turn where the template has a system
    role, else it leads the user turn (:func:`user_turn`).
    """
    if not system:
        return [{"role": "user", "content": prompt}]
    if has_system_role(tokenizer):
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    return [{"role": "user", "content": user_turn(system, prompt)}]


def prompt_text(tokenizer: Any, prompt: str, system: str | None = None) -> str:
    """The chat-formatted prompt, ending with the assistant header."""
    return _render(tokenizer, messages_for(tokenizer, prompt, system))


def prompt_ids(tokenizer: Any, prompt: str, system: str | None = None) -> list[int]:
    """Token ids of the chat-formatted prompt (no answer)."""
    return tokenizer(prompt_text(tokenizer, prompt, system), add_special_tokens=False)["input_ids"]


def answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """Token ids of the answer text alone, as it follows the assistant header."""
    return tokenizer(answer, add_special_tokens=False)["input_ids"]


@lru_cache(maxsize=16)
def _turn_suffix(tokenizer: Any) -> str:
    """Text the template puts after an assistant message (e.g. ``<|im_end|>\\n``)."""
    marker = "XqZ"
    base = messages_for(tokenizer, "u")
    full = _render(tokenizer, base + [{"role": "assistant", "content": marker}], generation_prompt=False)
    suffix = full[full.rfind(marker) + len(marker) :]
    return suffix.rstrip("\n") or (tokenizer.eos_token or "")


def completion_ids(tokenizer: Any, answer: str) -> list[int]:
    """Answer tokens followed by the end-of-turn token(s): the training target, so the
    fine-tuned model learns to stop after the label."""
    return answer_ids(tokenizer, answer) + tokenizer(_turn_suffix(tokenizer), add_special_tokens=False)["input_ids"]


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Ids that end generation: the tokenizer's EOS plus any end-of-turn token it knows."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    vocab = tokenizer.get_vocab()
    ids |= {vocab[t] for t in END_OF_TURN_TOKENS if t in vocab}
    return sorted(ids)


def non_content_token_ids(tokenizer: Any) -> set[int]:
    """Ids excluded from confidence scores: special tokens, padding, end of turn."""
    ids = set(tokenizer.all_special_ids) | set(stop_token_ids(tokenizer))
    if tokenizer.pad_token_id is not None:
        ids.add(tokenizer.pad_token_id)
    return ids
