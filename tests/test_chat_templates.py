"""Where the task instruction goes, rendered with the real chat templates of the paper's three
families (kept as fixtures in tests/fixtures/chat_templates, nothing downloaded): the system turn
for Llama-3.1 and Qwen2.5, the user turn (instruction, newline, input) for Mistral-v0.3. The
decision is read off each template, and training, evaluation and the CoS-Low stages all build
their prompts through the same messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataeff.modeling import chat
from dataeff.tasks.prepare import instruction, render
from dataeff.tasks.registry import REGISTRY, get_task
from dataeff.training.finetune import tokenize_rows

TEMPLATES = Path(__file__).parent / "fixtures" / "chat_templates"
FAMILIES = {
    "llama": "llama-3.1-8b-instruct.jinja",
    "qwen": "qwen2.5-instruct.jinja",
    "mistral": "mistral-7b-instruct-v0.3.jinja",
}
MISTRAL_V03_2024 = "mistral-7b-instruct-v0.3-tool-use-2024.jinja"
INSTRUCTION = "Classify the pair. Return only the digit (0 or 1), without explanations."
INPUT = "PREMISE - A man sleeps. [SEP] HYPOTHESIS - A person rests."


def byte_tokenizer(template: str):
    """A lossless byte-level tokenizer (no merges) carrying ``template``: enough to render and
    tokenize prompts exactly, without any model files."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    specials = [
        "<s>",
        "</s>",
        "<unk>",
        "<|begin_of_text|>",
        "<|eot_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|im_start|>",
        "<|im_end|>",
        "[INST]",
        "[/INST]",
    ]
    vocab = {tok: i for i, tok in enumerate(specials + sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=specials[3:],
    )
    tok.chat_template = template
    return tok


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_tok(request):
    return request.param, byte_tokenizer((TEMPLATES / FAMILIES[request.param]).read_text(encoding="utf-8"))


def test_system_role_is_read_off_the_template():
    assert chat.system_role_of_template(byte_tokenizer((TEMPLATES / FAMILIES["llama"]).read_text()))
    assert chat.system_role_of_template(byte_tokenizer((TEMPLATES / FAMILIES["qwen"]).read_text()))
    # v0.3 folds a system message into the user turn; v0.1 raises on it: neither has a system role.
    assert not chat.system_role_of_template(byte_tokenizer((TEMPLATES / FAMILIES["mistral"]).read_text()))
    assert not chat.system_role_of_template(byte_tokenizer((TEMPLATES / "mistral-7b-instruct-v0.1.jinja").read_text()))
    # the earlier v0.3 tool-use template drops a system message altogether: no system role either
    assert not chat.system_role_of_template(byte_tokenizer((TEMPLATES / MISTRAL_V03_2024).read_text()))


def test_instruction_placed_as_the_authors_did(family_tok):
    family, tok = family_tok
    text = chat.prompt_text(tok, INPUT, INSTRUCTION)
    assert text.count(INSTRUCTION) == 1 and text.count(INPUT) == 1
    if family == "llama":
        assert text == (
            "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            f"Today Date: 26 Jul 2024\n\n{INSTRUCTION}<|eot_id|><|start_header_id|>user"
            f"<|end_header_id|>\n\n{INPUT}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        )
    elif family == "qwen":  # the instruction replaces Qwen's default system prompt
        assert "You are Qwen" not in text
        assert text == (
            f"<|im_start|>system\n{INSTRUCTION}<|im_end|>\n<|im_start|>user\n{INPUT}<|im_end|>\n<|im_start|>assistant\n"
        )
    else:  # no system role: instruction and input share the user turn, separated by a newline
        assert text == f"<s>[INST] {INSTRUCTION}\n{INPUT}[/INST]"


def test_earlier_mistral_v03_template_that_drops_the_system_message_still_gets_the_instruction():
    """Mistral-7B-Instruct-v0.3 was published with a template that ignores a system message (the
    tool-use version public copies hold from 2024); an instruction placed in the system turn would
    vanish without an error. It lands in the user turn, ahead of the input."""
    tok = byte_tokenizer((TEMPLATES / MISTRAL_V03_2024).read_text(encoding="utf-8"))
    dropped = tok.apply_chat_template(
        [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": INPUT}], tokenize=False
    )
    assert INSTRUCTION not in dropped  # what system-turn placement would have given
    assert chat.prompt_text(tok, INPUT, INSTRUCTION) == f"<s> [INST] {INSTRUCTION}\n{INPUT} [/INST]"


def test_mistral_v01_template_that_raises_on_system_still_gets_the_instruction():
    tok = byte_tokenizer((TEMPLATES / "mistral-7b-instruct-v0.1.jinja").read_text())
    assert chat.prompt_text(tok, INPUT, INSTRUCTION) == f"<s>[INST] {INSTRUCTION}\n{INPUT} [/INST]"


def test_training_and_evaluation_see_the_same_prompt(family_tok):
    """Training tokens = evaluation prompt tokens + answer + end of turn, for a real task row."""
    _, tok = family_tok
    spec = get_task("rte")
    row = render(spec, {"premise": "A man sleeps.", "hypothesis": "A person rests.", "label": 0, "_id": "r-1"})
    assert row["prompt"] == INPUT and row["system"].startswith("You are a helpful assistant.")
    example = tokenize_rows(tok, [row], max_seq_len=4096, source="t")[0]
    assert example.prompt == chat.prompt_ids(tok, row["prompt"], row["system"])
    assert tok.decode(example.prompt) == chat.prompt_text(tok, row["prompt"], row["system"])
    assert tok.decode(example.completion).startswith("0")


def test_all_stages_build_prompts_through_chat_prompt_ids():
    """Training, evaluation, the confidence pass and CoS-Low gradients all call
    chat.prompt_ids(tokenizer, row["prompt"], row.get("system")): one definition of the prompt."""
    import inspect

    from dataeff.coslow import gradients as coslow
    from dataeff.inference import confidence, evaluate
    from dataeff.training import batches

    for module in (batches, evaluate, confidence, coslow):
        src = inspect.getsource(module)
        assert "prompt_ids(" in src and '.get("system"))' in src, module.__name__
        assert "apply_chat_template" not in src and "messages_for" not in src, module.__name__


INSTRUCTION_TASKS = sorted(n for n, s in REGISTRY.items() if s.prompt_style == "instruction")


@pytest.mark.parametrize("name", INSTRUCTION_TASKS)
def test_every_task_is_posed_as_the_authors_did_in_every_family(name):
    """For each family, each task's instruction (which lists its answer space) sits where the
    authors put it, and the user turn holds the input line."""
    spec = get_task(name)
    raw = next(iter(spec.label_map)) if spec.label_map else (spec.labels[0] if spec.labels else "1")
    row = render(spec, {**{f: f"<{f}>" for f in spec.input_fields}, spec.label_field: raw, "_id": "x"})
    instr = instruction(spec)
    assert row["system"] == instr
    texts = {
        family: chat.prompt_text(byte_tokenizer((TEMPLATES / f).read_text()), row["prompt"], row["system"])
        for family, f in FAMILIES.items()
    }
    assert (
        f"Today Date: 26 Jul 2024\n\n{instr}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        f"{row['prompt']}<|eot_id|>"
    ) in texts["llama"]
    assert texts["qwen"].startswith(
        f"<|im_start|>system\n{instr}<|im_end|>\n<|im_start|>user\n{row['prompt']}<|im_end|>"
    )
    assert texts["mistral"] == f"<s>[INST] {instr}\n{row['prompt']}[/INST]"
