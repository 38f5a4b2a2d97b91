"""The digest's look (issue 27): its accent colour, logo, header, footer and the Brand Studio
and sponsor blocks, set by an admin in the newsroom over the defaults of the settings and
schedules.yaml: ``colours`` (a colour read and its contrast), ``logo`` (an upload checked to be
a picture), ``values`` (the look in force), ``changes`` (an admin's change, checked and
audited)."""
