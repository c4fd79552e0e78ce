from livetape.cli import main

main()
