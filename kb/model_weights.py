"""Fitted on the development questions by ``manage.py kb_eval --fit`` (devtools/kb_eval): the rerank's
linear weights and the abstention model (logistic regression) with its threshold. Written by the tool;
edit by refitting, not by hand."""

RERANK_FEATURES = [
    "dense", "dense_gap", "dense_z", "lexical_rel", "lexical_abs", "coverage", "coverage_text",
    "lex_rrf", "dense_rrf", "faq", "log_tokens", "proximity",
]
RERANK_WEIGHTS = [
    18.594303, 0.041769, 0.053497, 1.349868, -0.808854, 3.748527, 0.926402, 1.053835, 6.144759, -0.774693,
    0.488649, 2.005244,
]

ABSTAIN_FEATURES = [
    "dense_top", "dense_margin", "final_margin", "lexical_top", "coverage_top", "coverage_three",
    "lex_agrees", "dense_agrees", "unknown_share", "entity_missing",
]
ABSTAIN_MEAN = [
    0.872071, 0.015376, 1.598235, 0.692224, 0.649383, 0.726205, 0.660584, 0.529197, 0.178211, 0.065693,
]
ABSTAIN_SCALE = [
    0.031708, 0.012678, 1.439487, 0.441773, 0.307363, 0.303416, 0.473511, 0.499147, 0.268194, 0.247745,
]
ABSTAIN_COEF = [
    0.464591, 0.963173, 0.171085, 1.33924, 1.169998, -1.138186, 0.299296, -0.212477, -0.624287, -1.428948,
]
ABSTAIN_INTERCEPT = 2.117429
ABSTAIN_THRESHOLD = 0.236563
