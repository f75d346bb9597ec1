"""The rules of the product, one package per domain. Views, commands and jobs call these
functions; nothing here reads the HTTP request (the web layer parses it and passes plain
values), and nothing here imports app.web, app.cli or jobs.

The packages depend downwards only (`lint-imports` enforces it, see pyproject.toml):

    demo                                   seeds every domain for `make run`
    notices                                the public privacy notice; may use all below
    agreements | integrations | retention  each may use rights, consent, platform
    rights | newsletters | accounts        each may use consent, platform
    consent                                may use platform
    platform                               uses no other service package
"""
