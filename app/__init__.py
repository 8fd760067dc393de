"""Framework Advisor: PyTorch or TensorFlow, for one team's actual workflow.

The data path reads top to bottom:
answers -> validated ``Answers`` (questionnaire) -> ``score_answers`` (scoring)
-> ``Recommendation`` -> stored report (storage) -> HTML / JSON / Markdown.
This package never imports torch or tensorflow; only ``probes/`` does, in a
subprocess of its own.
"""
