#!/bin/sh
# Stands in for the task runner's deploy.py: prints the branch and commit it was given.
echo "deploying branch=$1 commit=$2"
