"""The fine-tuning loop in parts, each testable on its own: micro-batch arithmetic
(:mod:`.batches`), the data schedule (:mod:`.schedule`), the training-state record
(:mod:`.state`), checkpoints (:mod:`.checkpoint`), one optimizer step (:mod:`.step`), validation
and best tracking (:mod:`.validation`) and the accelerate/FSDP2 set-up (:mod:`.distributed`).
:func:`dataeff.training.finetune.finetune` puts them together."""
