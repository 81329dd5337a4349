"""kgqa's spaCy components; importing this package registers their factories.

=========================  ===========================================================
factory                    what it writes
=========================  ===========================================================
``kgqa_entity_linker``     ``doc._.kgqa_mentions``, ``doc._.kgqa_entities`` (canonical entities)
``kgqa_coreference``       pronoun / nominal mentions added to ``doc._.kgqa_mentions``
``kgqa_relation_extractor`` schema relations in ``doc._.kgqa_relations`` (MiniLM + types)
``kgqa_trained_relations`` schema relations predicted by a trained model dir
``kgqa_document_relations`` relations read from the whole document (nlp/docre), with evidence
``kgqa_open_relations``    open (verb) relations in ``doc._.kgqa_relations``
=========================  ===========================================================
"""
from nlp.components import (  # noqa: F401  (importing registers the factories)
    annotations, coreference, document_relations, entity_linker, open_relations, relation_extractor,
    trained_relations,
)
from nlp.components.annotations import EntityCluster, Mention, RelationMention, ensure_extensions

__all__ = ["Mention", "EntityCluster", "RelationMention", "ensure_extensions"]
