from gfp.app import main

main()
