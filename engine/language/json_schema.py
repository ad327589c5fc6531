"""The JSON Schema of a process file, for editors (VS Code's YAML extension and others), and the
copy shipped in `processes/schema/`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from engine.language import definition
from engine.language.definition import ProcessDefinition
from engine.language.loader import PACKAGE

SCHEMA_FILE = "schema/process.schema.json"


SCHEMA_ID = "https://cme-engine.example/schema/process.schema.json"


def process_json_schema() -> dict[str, Any]:
    """The JSON Schema of a process file, for editors (VS Code's YAML extension and others)."""
    schema = ProcessDefinition.model_json_schema(schema_generator=_ShorthandSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """`process_json_schema()` as the exact text committed to processes/schema/."""
    return json.dumps(process_json_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema_text() -> str:
    """The JSON Schema file shipped in the package (compare with `schema_text()` for drift)."""
    return resources.files(PACKAGE).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


class _ShorthandSchema(GenerateJsonSchema):
    """Schema generation that also offers the short forms the loader accepts.

    `days: 5-15` or `days: 26`, a guard written as a bare expression string, and `ref:` as a bare
    section string are parsed by before-validators, which pydantic cannot describe by itself;
    without this an editor would flag the policy's own shorthand as wrong.
    """

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        func = schema["function"]["function"]
        if func is definition._parse_days:
            return {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "description": "A single day, e.g. 26."},
                    {
                        "type": "string",
                        "pattern": r"^\s*\d+\s*(?:[-–]\s*\d+)?\s*$",
                        "description": "A window of days, e.g. 5-15.",
                    },
                    inner,
                ]
            }
        if func is definition._parse_condition:
            return {"anyOf": [{"type": "string", "description": "A CEL expression."}, inner]}
        if func is definition._parse_source:
            section = {"type": "string", "description": "A section, e.g. Appendix 7."}
            return {"anyOf": [section, inner]}
        return inner


__all__ = ["SCHEMA_FILE", "SCHEMA_ID", "process_json_schema", "schema_text", "shipped_schema_text"]
