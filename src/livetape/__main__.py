from livetape.cli.main import main

main()
