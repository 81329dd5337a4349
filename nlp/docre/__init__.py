"""Document-level relation extraction: whole documents in, facts with their evidence sentences out.

:mod:`nlp.docre.data` reads DocRED-style JSON, :mod:`nlp.docre.model` is the network (ATLOP-style
pooling and adaptive threshold, DREEAM-style evidence), :mod:`nlp.docre.train` trains, saves,
loads, predicts and scores.
"""
