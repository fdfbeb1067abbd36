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
    "lex_agrees", "dense_agrees", "unknown_share", "entity_missing", "unknown_any", "figure_missing",
    "dense_standout",
]
ABSTAIN_MEAN = [
    0.872071, 0.015376, 1.598235, 0.692224, 0.649383, 0.726205, 0.660584, 0.529197, 0.178211, 0.065693,
    0.364964, 0.010949, 3.668051,
]
ABSTAIN_SCALE = [
    0.031708, 0.012678, 1.439487, 0.441773, 0.307363, 0.303416, 0.473511, 0.499147, 0.268194, 0.247745, 0.48142,
    0.104063, 0.810934,
]
ABSTAIN_COEF = [
    0.012703, 1.099896, 0.108565, 0.730135, 2.006948, -0.852837, 0.081578, -0.340717, -1.205219, -1.444374,
    0.753324, -0.712637, 0.305556,
]
ABSTAIN_INTERCEPT = 2.398026
ABSTAIN_THRESHOLD = 0.227172
