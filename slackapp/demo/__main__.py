"""`python -m slackapp.demo`: see `slackapp.demo.run`."""

from slackapp.demo.run import main

if __name__ == "__main__":
    main()
