#!/bin/sh
# signed maintenance step shipped with 1.0.0
echo "preparing 1.0.0"
