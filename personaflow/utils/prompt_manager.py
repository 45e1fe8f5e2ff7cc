"""``${var}`` prompt templates (``string.Template`` semantics) and a named registry of them."""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import Any

from personaflow.utils.validators import template_variables


class PromptTemplate:
    def __init__(self, template: str, name: str = "") -> None:
        self.variables: list[str] = template_variables(template)
        self.template = template
        self.name = name
        self._template = Template(template)

    def __repr__(self) -> str:
        return f"PromptTemplate(name={self.name!r}, variables={self.variables!r})"

    def render(self, variables: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
        """Fill every placeholder; a missing one raises KeyError naming it (and the template)."""
        values = {**(variables or {}), **kwargs}
        missing = [v for v in self.variables if v not in values]
        if missing:
            where = f"template {self.name!r}" if self.name else "template"
            raise KeyError(
                f"{where} needs {', '.join(repr(m) for m in missing)}; got {sorted(values) or 'nothing'}"
            )
        return self._template.substitute(values)

    format = render


class PromptManager:
    def __init__(self, templates: Mapping[str, str] | None = None) -> None:
        self.templates: dict[str, PromptTemplate] = {}
        for name, text in (templates or {}).items():
            self.add_template(name, text)

    def add_template(self, name: str, template: str | PromptTemplate) -> PromptTemplate:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("template name must be a non-empty string")
        tpl = template if isinstance(template, PromptTemplate) else PromptTemplate(template, name)
        self.templates[name] = tpl
        return tpl

    def get_template(self, name: str) -> PromptTemplate:
        try:
            return self.templates[name]
        except KeyError:
            raise KeyError(
                f"unknown template {name!r}; known: {', '.join(sorted(self.templates)) or 'none'}"
            ) from None

    def remove_template(self, name: str) -> None:
        self.get_template(name)
        del self.templates[name]

    def list_templates(self) -> list[str]:
        return sorted(self.templates)

    def render(self, name: str, variables: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
        return self.get_template(name).render(variables, **kwargs)

    get_prompt = render
