"""Registration rules of the model registry: behaviours 1-13 of shared/spec/registry.md.

Every test runs inside ``isolated()`` so that models defined here never leak
into other tests. Test names carry the behaviour number (b01 ... b13).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from dt1d.core import model_registry as mr
from dt1d.core._registry_checks import default_model_name, is_placeholder
from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import (
    ModelNotFoundError,
    RegistrationError,
    RegistryMeta,
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
)
from dt1d.core.twin import BaseModel

LOGGER = "dt1d.core.model_registry"


@pytest.fixture(autouse=True)
def _isolated_registry():
    with isolated():
        yield


class FitPredict:
    """A plain mixin with real fit/predict (not a model class itself)."""

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        self.n_seen_ = len(X)
        return self

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return np.full(len(X), float(getattr(self, "n_seen_", 0)))


def target(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- b01 ----------------------------------------------------------------------------------
def test_b01_importing_dt1d_registers_nothing_for_base_model():
    code = (
        "import json, dt1d\n"
        "from dt1d.core import model_registry as mr\n"
        "print(json.dumps({'classes': sorted(mr._REGISTRY.registered_names()),\n"
        "                  'listed': list(dt1d.list_available_models().values())}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["classes"] == []  # nothing registered by a class statement at import
    assert "dt1d.core.twin.BaseModel" not in result["listed"]
    assert target(BaseModel) not in list_available_models().values()
    assert not is_model_registered("base")


# -- b02 / b03 ----------------------------------------------------------------------------
def test_b02_class_statement_registers_on_completion():
    class Registered(FitPredict, ParamsMixin, BaseModel, name="b02_registered"):
        pass

    assert list_available_models()["b02_registered"] == target(Registered)
    assert target(Registered).endswith(
        "test_b02_class_statement_registers_on_completion.<locals>.Registered"
    )
    assert get_model_class("b02_registered") is Registered


def test_b03_name_keyword_sets_the_name():
    class Anything(FitPredict, ParamsMixin, BaseModel, name="b03_custom"):
        pass

    assert get_model_class("b03_custom") is Anything
    assert not is_model_registered("anything")


def test_b03_default_name_is_snake_case_without_model_suffix():
    class MyAwesomeModel(FitPredict, ParamsMixin, BaseModel):
        pass

    class HTTPGatewayModel(FitPredict, ParamsMixin, BaseModel):
        pass

    assert get_model_class("my_awesome") is MyAwesomeModel
    assert get_model_class("http_gateway") is HTTPGatewayModel


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [
        ("MyAwesomeModel", "my_awesome"),
        ("LSTMModel", "lstm"),
        ("UVAPadovaModel", "uva_padova"),
        ("PersistenceModel", "persistence"),
        ("Arx2StepModel", "arx2_step"),
        ("MyModelV2", "my_model_v2"),
        ("Model", "model"),
        ("lower_case", "lower_case"),
        ("_PrivateThingModel", "private_thing"),
    ],
)
def test_b03_default_name_rule_examples(class_name, expected):
    assert default_model_name(class_name) == expected


# -- b04 ----------------------------------------------------------------------------------
def test_b04_abstract_class_not_registered_its_subclasses_are():
    before = list_available_models()

    class HalfBase(BaseModel, abstract=True):  # may leave methods abstract
        def fit(self, X, y=None, **kwargs):
            return self

    assert list_available_models() == before

    class CompleteBase(FitPredict, ParamsMixin, BaseModel, abstract=True):
        pass

    assert list_available_models() == before

    class Child(CompleteBase):  # abstract=True is not inherited
        pass

    assert get_model_class("child") is Child

    class GrandChild(FitPredict, ParamsMixin, HalfBase):
        pass

    assert get_model_class("grand_child") is GrandChild
    assert len(list_available_models()) == len(before) + 2


# -- b05 ----------------------------------------------------------------------------------
def test_b05_missing_methods_raise_naming_class_and_every_method():
    before = list_available_models()
    with pytest.raises(RegistrationError) as info:

        class Incomplete(BaseModel, name="b05_incomplete"):
            def fit(self, X, y=None, **kwargs):
                return self

    message = str(info.value)
    assert "Incomplete" in message and __name__ in message
    for method in ("predict", "get_params", "set_params"):
        assert method in message
    assert "abstract=True" in message  # the fix for intended base classes
    assert list_available_models() == before
    assert not is_model_registered("b05_incomplete")


# -- b06 ----------------------------------------------------------------------------------
class TorchStyleBase:
    """A foreign base whose methods are placeholders, like torch.nn.Module.forward."""

    def predict(self, *inputs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing "predict"')

    def get_params(self, deep: bool = True) -> dict:
        """Only a docstring."""

    def set_params(self, **params: Any) -> Any: ...


def test_b06_foreign_placeholders_do_not_satisfy_abstract_methods():
    with pytest.raises(RegistrationError) as info:

        class Sneaky(TorchStyleBase, BaseModel, name="b06_sneaky"):
            def fit(self, X, y=None, **kwargs):
                return self

    message = str(info.value)
    for method in ("predict", "get_params", "set_params"):
        assert method in message
    assert "placeholder" in message and "TorchStyleBase" in message
    assert "fit" not in message.split("implement", 1)[1].split("(", 1)[0]
    assert not is_model_registered("b06_sneaky")


def test_b06_real_torch_module_placeholder_is_refused_and_real_methods_count():
    import torch

    class TorchForwardAsPredict(torch.nn.Module):
        predict = torch.nn.Module.forward  # nn.Module's "missing forward" placeholder

    with pytest.raises(RegistrationError, match="predict"):

        class Borrowed(TorchForwardAsPredict, ParamsMixin, BaseModel, name="b06_borrowed"):
            def fit(self, X, y=None, **kwargs):
                return self

    class Net(torch.nn.Module, FitPredict, ParamsMixin, BaseModel, name="b06_net"):
        def __init__(self, width: int = 2):
            super().__init__()
            self.width = width

    assert get_model_class("b06_net") is Net
    assert Net(width=3).get_params() == {"width": 3}


def test_b06_real_methods_from_mixins_count():
    class Mixed(FitPredict, ParamsMixin, BaseModel, name="b06_mixed"):
        pass

    assert get_model_class("b06_mixed") is Mixed


def _raises_plain():
    raise NotImplementedError


def _raises_with_message(x):
    raise NotImplementedError("subclasses implement this")


def _ellipsis(): ...


def _pass():
    pass


def _docstring():
    """Nothing but a docstring."""


def _conditional(x):
    if x:
        raise NotImplementedError
    return x


def _returns(x):
    return x + 1


def _raises_other():
    raise ValueError("not a placeholder")


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (_raises_plain, True),
        (_raises_with_message, True),
        (_ellipsis, True),
        (_pass, True),
        (_docstring, True),
        (staticmethod(_pass), True),
        (_conditional, False),
        (_returns, False),
        (_raises_other, False),
        (len, False),
    ],
)
def test_b06_placeholder_detection(func, expected):
    assert is_placeholder(func) is expected


# -- b07 ----------------------------------------------------------------------------------
def test_b07_decorator_registers_under_its_name_only():
    @register_model("b07_decorated")
    class Decorated(FitPredict, ParamsMixin, BaseModel):
        pass

    listed = list_available_models()
    assert listed["b07_decorated"] == target(Decorated)
    assert list(listed.values()).count(target(Decorated)) == 1
    assert not is_model_registered("decorated")


def test_b07_decorator_name_wins_over_name_keyword():
    @register_model("b07_from_decorator")
    class Both(FitPredict, ParamsMixin, BaseModel, name="b07_from_keyword"):
        pass

    assert get_model_class("b07_from_decorator") is Both
    assert not is_model_registered("b07_from_keyword")
    assert list(list_available_models().values()).count(target(Both)) == 1


# -- b08 ----------------------------------------------------------------------------------
def test_b08_decorator_avoids_collision_of_default_name():
    class First(FitPredict, ParamsMixin, BaseModel, name="clash"):
        pass

    @register_model("b08_other")
    class Clash(FitPredict, ParamsMixin, BaseModel):  # default name "clash" is taken
        pass

    assert get_model_class("clash") is First
    assert get_model_class("b08_other") is Clash


# -- b09 ----------------------------------------------------------------------------------
def test_b09_collision_names_both_classes_and_fixes(caplog):
    class Holder(FitPredict, ParamsMixin, BaseModel, name="b09_taken"):
        pass

    with pytest.raises(RegistrationError) as info:

        class Intruder(FitPredict, ParamsMixin, BaseModel, name="b09_taken"):
            pass

    message = str(info.value)
    assert target(Holder) in message
    assert (
        f"{__name__}.test_b09_collision_names_both_classes_and_fixes.<locals>.Intruder" in message
    )
    assert "another name" in message and "overwrite=True" in message
    assert get_model_class("b09_taken") is Holder


def test_b09_overwrite_replaces_and_logs_one_warning(caplog):
    class Old(FitPredict, ParamsMixin, BaseModel, name="b09_slot"):
        pass

    class New(FitPredict, ParamsMixin, BaseModel, name="b09_new"):
        pass

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        register_model("b09_slot", overwrite=True)(New)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert target(Old) in warnings[0].getMessage() and target(New) in warnings[0].getMessage()
    assert get_model_class("b09_slot") is New
    assert not is_model_registered("b09_new")  # re-keyed


def test_b09_builtin_name_is_protected_until_overwrite():
    with pytest.raises(RegistrationError, match="dt1d.models.baselines.PersistenceModel"):

        class PersistenceModel(FitPredict, ParamsMixin, BaseModel):  # default "persistence"
            pass

    class MyPersistence(FitPredict, ParamsMixin, BaseModel, name="b09_mine"):
        pass

    register_model("persistence", overwrite=True)(MyPersistence)
    assert get_model_class("persistence") is MyPersistence
    # Importing the built-in module afterwards keeps the user's choice and does not raise.
    import dt1d.models.baselines  # noqa: F401

    assert get_model_class("persistence") is MyPersistence


# -- b10 ----------------------------------------------------------------------------------
def test_b10_call_form_rekeys_existing_class():
    class Rekey(FitPredict, ParamsMixin, BaseModel, name="b10_before"):
        pass

    assert register_model("b10_after")(Rekey) is Rekey
    assert get_model_class("b10_after") is Rekey
    assert not is_model_registered("b10_before")
    assert list(list_available_models().values()).count(target(Rekey)) == 1


# -- b11 ----------------------------------------------------------------------------------
def test_b11_decorator_accepts_duck_typed_class_with_all_methods():
    @register_model("b11_duck")
    class Duck(FitPredict):
        def get_params(self, deep=True):
            return {}

        def set_params(self, **params):
            return self

    assert not isinstance(Duck, RegistryMeta)
    assert get_model_class("b11_duck") is Duck
    assert list_available_models()["b11_duck"] == target(Duck)


def test_b11_decorator_rejects_class_missing_methods():
    class HalfDuck:
        def fit(self, X, y=None):
            return self

        def predict(self, X):
            raise NotImplementedError

    with pytest.raises(RegistrationError) as info:
        register_model("b11_half")(HalfDuck)
    message = str(info.value)
    for method in ("predict", "get_params", "set_params"):
        assert method in message
    assert not is_model_registered("b11_half")


# -- b12 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [None, 3, 2.5, b"bytes", ("a",), object()])
def test_b12_non_string_names_raise_type_error(bad):
    with pytest.raises(TypeError, match="must be a str"):
        register_model(bad)


@pytest.mark.parametrize("bad", ["", " ", "\t", " lead", "trail ", "\nboth\n"])
def test_b12_blank_or_padded_names_raise_registration_error(bad):
    with pytest.raises(RegistrationError):
        register_model(bad)
    with pytest.raises(RegistrationError):

        class Padded(FitPredict, ParamsMixin, BaseModel, name=bad):
            pass


def test_b12_lookup_is_case_sensitive_and_case_variants_may_not_coexist():
    class Cased(FitPredict, ParamsMixin, BaseModel, name="B12Cased"):
        pass

    with pytest.raises(ModelNotFoundError) as info:
        get_model_class("b12cased")
    assert info.value.suggestions == ["B12Cased"]
    assert not is_model_registered("b12cased")
    with pytest.raises(RegistrationError, match="only in case"):

        class Other(FitPredict, ParamsMixin, BaseModel, name="b12cased"):
            pass

    class Another(FitPredict, ParamsMixin, BaseModel, name="b12_another"):
        pass

    with pytest.raises(RegistrationError, match="only in case"):
        register_model("b12cased", overwrite=True)(Another)  # not even with overwrite

    class Snake(FitPredict, ParamsMixin, BaseModel, name="b12_snake_case"):
        pass

    with pytest.raises(RegistrationError, match="only in case or '-'/'_'"):

        class Kebab(FitPredict, ParamsMixin, BaseModel, name="b12-Snake-Case"):
            pass

    assert get_model_class("B12Cased") is Cased
    # The same class may be re-keyed to a case variant of its own name.
    register_model("b12cased")(Cased)
    assert get_model_class("b12cased") is Cased


# -- b13 ----------------------------------------------------------------------------------
def test_b13_aliases_register_atomically():
    class Holder(FitPredict, ParamsMixin, BaseModel, name="b13_alias_taken"):
        pass

    class Multi(FitPredict, ParamsMixin, BaseModel, name="b13_main", aliases=("b13_alt",)):
        pass

    assert get_model_class("b13_main") is Multi is get_model_class("b13_alt")
    before = list_available_models()
    with pytest.raises(RegistrationError, match="b13_alias_taken"):

        class Partial(
            FitPredict, ParamsMixin, BaseModel, name="b13_fresh", aliases=("b13_alias_taken",)
        ):
            pass

    with pytest.raises(RegistrationError):
        register_model("b13_fresh2", aliases=("b13_fresh3", "b13_alias_taken"))(Multi)
    assert list_available_models() == before
    assert get_model_class("b13_alias_taken") is Holder


def test_b13_aliases_must_be_a_tuple_of_names():
    with pytest.raises(TypeError, match="tuple of names"):
        register_model("b13_x", aliases="b13_y")
    with pytest.raises(RegistrationError, match="twice"):
        register_model("b13_x", aliases=("b13_x",))(
            type("T", (FitPredict, ParamsMixin, BaseModel), {})
        )


def test_b13_mechanistic_answers_to_both_names():
    assert mr._BUILTIN_MODELS["mechanistic"] == mr._BUILTIN_MODELS["mechanistic_uva_padova"]
    assert is_model_registered("mechanistic_uva_padova")
    assert is_model_registered("mechanistic")
    cls = get_model_class("mechanistic_uva_padova")
    assert get_model_class("mechanistic") is cls
    assert target(cls) == "dt1d.models.mechanistic._model.MechanisticModel"


def test_b08_decorator_with_derived_metaclass_overriding_new():
    class TracingMeta(RegistryMeta):
        created: list[str] = []

        def __new__(mcls, name, bases, ns, /, **kwargs):
            cls = super().__new__(mcls, name, bases, ns, **kwargs)
            mcls.created.append(name)
            return cls

    class Holder(FitPredict, ParamsMixin, BaseModel, name="traced"):
        pass

    @register_model("b08_traced_other")
    class Traced(FitPredict, ParamsMixin, BaseModel, metaclass=TracingMeta):  # default "traced"
        pass

    assert TracingMeta.created == ["Traced"]
    assert get_model_class("traced") is Holder
    assert get_model_class("b08_traced_other") is Traced


def test_b12_bare_decorator_explains_the_fix():
    with pytest.raises(TypeError, match=r"@register_model\('my_model'\)"):

        @register_model
        class Bare(FitPredict, ParamsMixin, BaseModel, name="b12_bare"):
            pass
