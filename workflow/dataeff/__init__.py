"""dataeff: estimate how many labeled examples an LLM fine-tuning task needs.

Implements Je & Raffel, "Efficiently Estimating Data Efficiency for Language Model
Fine-tuning" (arXiv 2512.24991): data-efficiency AUC, the CoS-Low predictor, per-family
coefficients and label-budget predictions.
"""

__version__ = "0.1.0"
