"""SCIM under hostile input: mutated Users, Groups, search and Bulk bodies and list queries are
answered with RFC 7644 §3.12 errors (never a 5xx), and a refused request writes nothing."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz._mutate import content_type, mutated_json, mutated_pairs
from tests.fuzz._seeds import scim_query_seeds, scim_seeds
from tests.fuzz._world import report
from tests.fuzz.conftest import FUZZ


@FUZZ
@given(data=st.data())
def test_mutated_scim_bodies(world, data):
    seed = data.draw(st.sampled_from(scim_seeds(world)), label="seed")
    req = seed.request(body=data.draw(mutated_json(seed.json), label="body"),
                       content_type=content_type(data, seed.content_type))
    _, problems = world.probe(world.client, req, world.scim_token)
    assert not problems, report([(req, problems)])


@FUZZ
@given(data=st.data())
def test_mutated_scim_queries(world, data):
    seed = data.draw(st.sampled_from(scim_query_seeds(world)), label="seed")
    req = seed.request(query=data.draw(mutated_pairs(seed.query), label="query"))
    _, problems = world.probe(world.client, req, world.scim_token)
    assert not problems, report([(req, problems)])
