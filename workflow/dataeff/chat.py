"""Chat formatting shared by training, evaluation, selection and CoS-Low.

Everything goes through the tokenizer's own chat template, so a family only needs a
template (its own or one in config). Prompts are rendered as text and tokenized without
extra special tokens, which keeps the prompt/answer boundary exact: the answer tokens of a
training example are exactly the tokens generation would produce after the prompt.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: Tokens that end an assistant turn in common chat formats.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<end_of_turn>", "<|endoftext|>")


def messages_for(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """The chat messages of one example (system message only when given)."""
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": prompt}]


def prompt_text(tokenizer: Any, prompt: str, system: str | None = None) -> str:
    """The chat-formatted prompt, ending with the assistant header."""
    return tokenizer.apply_chat_template(messages_for(prompt, system), tokenize=False,
                                         add_generation_prompt=True)


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
    base = messages_for("u")
    full = tokenizer.apply_chat_template(base + [{"role": "assistant", "content": marker}],
                                         tokenize=False, add_generation_prompt=False)
    suffix = full[full.rfind(marker) + len(marker):]
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
