"""The console under hostile input: mutated forms (roles, mappings, settings, schema, playground,
tokens, sign-in) and page queries, posted by a signed-in admin with the CSRF token, are answered with
an HTML page (never a traceback or a 5xx), and a refused form writes nothing."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.admin.conftest import Console
from tests.fuzz._mutate import mutated_pairs
from tests.fuzz._seeds import console_form_seeds, console_query_seeds, login_seed
from tests.fuzz._world import report
from tests.fuzz.conftest import FUZZ


@FUZZ
@given(data=st.data())
def test_mutated_console_forms(world, data):
    seed = data.draw(st.sampled_from(console_form_seeds(world)), label="seed")
    req = seed.request(form=data.draw(mutated_pairs(seed.form), label="form"))
    _, problems = world.probe(world.console.client, req)
    assert not problems, report([(req, problems)])


@FUZZ
@given(data=st.data())
def test_mutated_console_queries(world, data):
    seed = data.draw(st.sampled_from(console_query_seeds(world)), label="seed")
    req = seed.request(query=data.draw(mutated_pairs(seed.query), label="query"))
    _, problems = world.probe(world.console.client, req)
    assert not problems, report([(req, problems)])


@settings(FUZZ, max_examples=25)  # each attempt checks a password hash, on purpose slowly
@given(data=st.data())
def test_mutated_sign_in(world, data):
    visitor = Console(world.app.test_client())
    seed = login_seed(visitor.csrf())
    req = seed.request(form=data.draw(mutated_pairs(seed.form), label="form"))
    _, problems = world.probe(visitor.client, req)
    assert not problems, report([(req, problems)])
