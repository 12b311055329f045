#!/bin/sh
# signed maintenance step shipped with 2.0.0
echo "preparing 2.0.0"
