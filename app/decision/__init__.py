"""The decision core: answers -> validated answers -> scoring -> Recommendation.

A plain library: it imports no web framework, database layer, template engine or ML
framework, so a script can load a rule set and score answers with nothing else.
"""
