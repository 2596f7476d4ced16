from golive.cli import run

run()
