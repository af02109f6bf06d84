"""`migtool init`: look at a project folder and propose a migtool.yaml, explaining every guess.

`discover.discover(root)` is the pure core (it only reads files under root); `render` turns its
result into commented YAML; `snippet` writes the migrate service to add when there is none.
"""
