"""Other sites' feeds: fetched (``fetch``), parsed (``parsing``), their items cleaned (``items``),
polled or pushed on the timetable (``polling``), and the inbox of what they brought in
(``inbox``)."""

__all__: list[str] = []
