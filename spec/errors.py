"""The error a malformed spec raises: it says what is wrong and where."""

from __future__ import annotations

__all__ = ["SpecError", "kind_of"]


def kind_of(value: object) -> str:
    """What a YAML value is, in the words of the case format (never an internal class name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (int, float)) or type(value).__name__ in ("Fraction", "Decimal"):
        return "number"
    return type(value).__name__


class SpecError(ValueError):
    """A case file or profile that does not meet the case format.

    Carries the file, the line (where YAML gives one), the case id and the
    field path, so that a message reads like
    ``cases.yaml:12: case 'scce/x': inputs.y_pred: ragged array ...``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 case_id: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.case_id = case_id
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        if self.case_id:
            where += f"case {self.case_id!r}: "
        if self.field:
            where += f"{self.field}: "
        return where + self.message
